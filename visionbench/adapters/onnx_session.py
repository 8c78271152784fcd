"""One ONNX Runtime session with what every ONNX adapter needs, whatever the task kind.

Loading errors name the file; metadata, the first input and its static size are read once;
``run`` splits a batch for models exported with a fixed batch dimension; ``use_device``
switches to CUDA when ONNX Runtime has it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionbench.adapters.pixels import file_digest
from visionbench.errors import ModelError


class OnnxModel:
    def __init__(self, path: str | Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("onnxruntime is not installed: pip install 'visionbench[onnx]'") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"ONNX model not found: {self.path}")
        try:
            self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load ONNX model {self.path}: {exc}") from None
        self.input = self.session.get_inputs()[0]
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.fixed_batch = self.input.shape[0] if isinstance(self.input.shape[0], int) else None

    @property
    def static_size(self) -> tuple[int, int] | None:
        """``(H, W)`` of a static NCHW input, else None."""
        shape = self.input.shape
        if len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
            return int(shape[2]), int(shape[3])
        return None

    @property
    def channels(self) -> int | None:
        shape = self.input.shape
        return shape[1] if len(shape) == 4 and isinstance(shape[1], int) else None

    def metadata_value(self, keys: tuple[str, ...]) -> str | None:
        """The first metadata entry present among ``keys``."""
        return next((self.metadata[k] for k in keys if k in self.metadata), None)

    def use_device(self, device: str) -> None:
        if device.startswith("cuda"):
            import onnxruntime as ort

            if "CUDAExecutionProvider" in ort.get_available_providers():
                self.session.set_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])

    def run(self, array: Any) -> Any:
        """The first output for a float32 NCHW batch (one sample at a time for a fixed-batch model)."""
        import numpy as np

        if self.fixed_batch and array.shape[0] != self.fixed_batch:
            parts = [
                self.session.run(None, {self.input.name: array[i : i + 1]})[0] for i in range(len(array))
            ]
            return np.concatenate(parts)
        return self.session.run(None, {self.input.name: array})[0]

    def run_tensor(self, batch: Any) -> Any:
        """``run`` for a torch batch on any device; returns a float32 CPU tensor."""
        import numpy as np
        import torch

        out = self.run(batch.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(np.asarray(out, dtype=np.float32))

    def fingerprint(self) -> str:
        return file_digest(self.path)

    def describe(self) -> dict[str, Any]:
        return {
            "name": f"onnx:{self.path.stem}",
            "onnx_input": [self.input.name, list(map(str, self.input.shape))],
        }

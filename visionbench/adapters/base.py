"""Shared machinery for adapters that wrap a classifier: device/precision, label maps, fingerprints."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from visionbench.contracts import Adapter, ImageMeta, TaskInfo, resolve_label_map
from visionbench.preprocessing import ImageTransform, Preprocess


def state_dict_fingerprint(module: Any) -> str:
    """sha256 over parameter and buffer names, shapes and bytes: identical weights give identical ids."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def file_fingerprint(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


class ClassifierAdapter(Adapter):
    """An adapter whose model maps a batch tensor to ``[N, M]`` logits in the model's own label space.

    Subclasses set ``self.model`` (callable), ``self.preprocess`` (a :class:`Preprocess`
    or a ready transform) and optionally ``self.model_classes``; this class maps the
    outputs to the dataset's class order (see :func:`resolve_label_map`).
    """

    kinds = frozenset({"classification"})

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.model: Any = None
        self.preprocess: Preprocess | Callable[[Any], Any] | None = None
        self.preprocess_description: dict[str, Any] = {}
        self.model_classes: Sequence[str] | None = None
        self._columns: Any = None
        self._checked = False

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        if hasattr(self.model, "to"):
            self.model.to(device).eval()
        self._checked = False

    def transform(self) -> Callable[[Any], Any]:
        if isinstance(self.preprocess, Preprocess):
            return ImageTransform(self.preprocess)
        return self.preprocess  # type: ignore[return-value]

    def forward(self, batch: Any) -> Any:
        """Raw model outputs ``[N, M]`` for a batch already on any device."""
        return self.model(batch.to(self.device, non_blocking=True))

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> Any:
        logits = self.forward(batch)
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        if hasattr(logits, "logits"):
            logits = logits.logits
        logits = logits.float()
        if not self._checked:
            assert self.task is not None
            columns = resolve_label_map(
                self.model_classes,
                logits.shape[1],
                self.task.classes,
                dict(self.spec.label_map) or None,
                model_name=self.spec.spec,
                dataset_name=self.task.dataset,
            )
            import torch

            self._columns = None if columns is None else torch.as_tensor(columns, device=logits.device)
            self._checked = True
        return logits if self._columns is None else logits.index_select(1, self._columns)

    @property
    def module(self) -> Any:
        import torch

        return self.model if isinstance(self.model, torch.nn.Module) else None

    def fingerprint(self) -> str:
        module = self.module
        return state_dict_fingerprint(module) if module is not None else self.spec.fingerprint

    def describe(self) -> dict[str, Any]:
        pre = (
            self.preprocess.to_dict()
            if isinstance(self.preprocess, Preprocess)
            else self.preprocess_description
        )
        return {**super().describe(), "name": self.spec.spec, "preprocess": pre}

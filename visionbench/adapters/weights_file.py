"""Loading weights without running code: every ``torch.load`` is ``weights_only=True``.

A ``.pt``/``.pth`` file is a pickle, and unpickling may call any Python function, so a weights
file someone hands over (``--weights FILE``, a zoo file, a tampered torch hub cache) could run
code. :func:`load_state_dict` reads a file with ``torch.load(..., weights_only=True)`` (tensors
and plain containers only) or with safetensors; :func:`weights_only_loads` forces the same for
the ``torch.load`` calls that libraries make while building a model (torchvision's and timm's
hub downloads pass ``weights_only=False`` or nothing). A file that needs more than tensors is a
:class:`~visionbench.errors.ModelError`, never executed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from visionbench.errors import ModelError

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
_FORCE = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"


def is_weights_file(value: Any) -> bool:
    """True when ``--weights`` names a file (a weights suffix or an existing file) rather than a library name."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        return False
    path = Path(value)
    return path.suffix.lower() in WEIGHT_SUFFIXES or path.is_file()


def _refused(owner: str, path: Any, exc: BaseException) -> ModelError:
    """torch's long weights-only message cut to the reason; a pickle naming globals is refused as code."""
    text = str(exc)
    _, found, after = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (after if found else text).splitlines() if line.strip()]
    reason = (lines[0] if lines else type(exc).__name__).split(". ")[0][:200]
    if found and "global" not in reason.lower():
        return ModelError(f"{owner}: cannot load weights {path}: not a PyTorch weights file ({reason})")
    return ModelError(
        f"{owner}: refused to load weights {path}: the file holds Python objects beyond tensors and "
        f"loading them could run code (torch.load weights_only=True: {reason}); save a plain state_dict"
    )


@contextlib.contextmanager
def weights_only_loads(owner: str) -> Iterator[None]:
    """Every ``torch.load`` inside runs with ``weights_only=True``; a refused file becomes a ModelError."""
    previous = os.environ.get(_FORCE)
    os.environ[_FORCE] = "1"
    try:
        yield
    except pickle.UnpicklingError as exc:
        raise _refused(owner, "(library download or cache)", exc) from None
    finally:
        if previous is None:
            os.environ.pop(_FORCE, None)
        else:
            os.environ[_FORCE] = previous


def load_state_dict(path: str | os.PathLike, owner: str) -> dict[str, Any]:
    """A state_dict (name -> tensor) from ``path``, read without unpickling code.

    ``{"state_dict": {...}}`` and ``{"model": {...}}`` checkpoints are unwrapped. Anything that
    is not a mapping of names to tensors is a :class:`ModelError` naming the file.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{owner}: weights file not found: {path}")
    try:
        if path.suffix.lower() == ".safetensors":
            try:
                from safetensors.torch import load_file
            except ImportError:
                raise ModelError(f"{owner}: {path} is a safetensors file: pip install safetensors") from None
            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refused(owner, path, exc) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ModelError(f"{owner}: cannot load weights {path}: {str(exc).splitlines()[0][:200]}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelError(f"{owner}: {path} is not a state_dict (a mapping of parameter names to tensors)")
    return dict(state)


def load_into(net: Any, path: str | os.PathLike, owner: str) -> None:
    """Load the state_dict in ``path`` into ``net`` (strict); a mismatch is a ModelError naming the file."""
    state = load_state_dict(path, owner)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ModelError(f"{owner}: weights {path} do not fit the model: {detail}") from None

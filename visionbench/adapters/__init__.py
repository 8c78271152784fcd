"""Model adapters: one loader per model family (``family_*.py``) + one thin head per task kind.

``adapter_for_object(obj, kind, ...)`` wraps an in-memory ``nn.Module`` or callable; adapters for
spec strings come from :func:`visionbench.registry.build_adapter`. Imports stay lazy so that
importing a submodule (``visionbench.adapters.haar_faces``) does not pull in torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["adapter_for_object", "model_for_object"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from visionbench.adapters import objects

        return getattr(objects, name)
    raise AttributeError(f"module 'visionbench.adapters' has no attribute {name!r}")

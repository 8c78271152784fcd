"""Wrap an in-memory ``torch.nn.Module`` or any Python callable as an adapter of one task kind.

The ``callable:`` family (:mod:`visionbench.adapters.family_callable`) builds its model from
``module:factory`` and wraps it here, and :func:`adapter_for_object` wraps a model the caller
already holds: one code path for both.

What the wrapped object receives, by kind:

* classification / segmentation: a float batch ``[N, C, h, w]`` normalised with the
  preprocessing's mean/std (normalisation inside the forward; an ``nn.Module`` is therefore
  differentiable from pixels in [0, 1]); it returns logits ``[N, M]`` / ``[N, M, h', w']``
  (a tensor, ``{"out": ...}``, ``.logits`` or a tuple whose first item is the logits);
* detection: a list of RGB ``uint8`` arrays ``[H, W, 3]``; it returns one dict per image with
  ``boxes`` [K, 4] xyxy in the image's pixels, ``scores``, ``labels`` (indices into its class
  names when it declares them, else dataset category ids) and optionally ``masks`` [K, H, W].

Preprocessing comes from ``preprocess`` (a dict of :class:`~visionbench.preprocessing.Preprocess`
fields), else a ``visionbench_preprocess`` attribute, else ImageNet-style 224 px for
classification and shorter side 520 for segmentation; class names from ``classes``, else a
``visionbench_classes`` attribute. A ``visionbench_fingerprint`` attribute or ``fingerprint()``
method identifies non-torch models in the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from visionbench.adapters.core import Model, ModelAdapter, is_torch_module, torch_model
from visionbench.adapters.labels import imagenet_label_space, model_label_space
from visionbench.adapters.pixels import ToArray, ToPixels, state_dict_digest
from visionbench.contracts import ModelSpec, stable_hash
from visionbench.errors import ConfigError, ModelError
from visionbench.preprocessing import Preprocess

DEFAULT_PREPROCESS = {
    "classification": Preprocess(resize=256, crop=(224, 224)),
    "segmentation": Preprocess(resize=520),
}


def model_preprocess(kind: str, options: Mapping[str, Any] | Preprocess | None) -> Preprocess:
    """A :class:`Preprocess` from options or the kind's default; segmentation refuses a crop (it loses pixels)."""
    if isinstance(options, Preprocess):
        spec = options
    else:
        data = dict(options) if isinstance(options, Mapping) else options
        spec = Preprocess.from_dict(data) if options else DEFAULT_PREPROCESS[kind]
    if kind == "segmentation" and spec.crop is not None:
        raise ConfigError("segmentation preprocessing cannot crop: predictions must cover the whole image")
    return spec


def model_for_object(
    obj: Any,
    kind: str,
    *,
    name: str,
    preprocess: Mapping[str, Any] | Preprocess | None = None,
    classes: Sequence[str] | None = None,
    identity: str | None = None,
) -> Model:
    """A :class:`~visionbench.adapters.core.Model` around ``obj`` for ``kind`` (see the module docstring)."""
    if not callable(obj):
        raise ModelError(f"{name} is a {type(obj).__name__}, not a callable model")
    preprocess = preprocess or getattr(obj, "visionbench_preprocess", None)
    classes = classes if classes is not None else getattr(obj, "visionbench_classes", None)
    own = getattr(obj, "visionbench_fingerprint", None)
    if callable(getattr(obj, "fingerprint", None)):
        own = obj.fingerprint()
    is_module = is_torch_module(obj)

    def digest() -> str:
        base = state_dict_digest(obj) if is_module else (identity or stable_hash([name]))
        return stable_hash([identity or name, own]) if own is not None else base

    if kind == "detection":
        return _detector(obj, name, classes, digest, is_module)
    if kind not in DEFAULT_PREPROCESS:
        raise ModelError(
            f"{name}: a callable model serves classification, segmentation or detection, not {kind}"
        )
    spec = model_preprocess(kind, preprocess)
    if kind == "classification":
        outputs = len(classes) if classes is not None else None
        names, aliases = imagenet_label_space(outputs or 0, classes) if outputs else (classes, {})
    else:
        names, aliases = classes, {}
    model = torch_model(
        obj,
        name=name,
        pixels=ToPixels.of(spec),
        mean=spec.mean,
        std=spec.std,
        classes=list(names) if names is not None else None,
        aliases=aliases,
        digest=digest,
        source={"library": "python callable", "object": type(obj).__qualname__},
    )
    if not is_module:
        model.module, model.pixels = None, None
        model.to_device = lambda device: obj.to(device) if hasattr(obj, "to") else None
    return model


def _detector(obj: Any, name: str, classes: Sequence[str] | None, digest: Any, is_module: bool) -> Model:
    def run(batch: list[Any], metas: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            out = obj(batch)
        except Exception as exc:  # noqa: BLE001 - user code
            raise ModelError(
                f"{name} failed on {metas[0].sample_id}...: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(out, Sequence) or not all(isinstance(o, dict) for o in out):
            raise ModelError(f"{name} must return a list of dicts (one per image), got {type(out).__name__}")
        return list(out)

    def to_device(device: str) -> None:
        if hasattr(obj, "to") and hasattr(obj, "eval"):
            obj.to(device).eval()

    return Model(
        name=name,
        transform=ToArray(),
        run=run,
        collate=list,
        module=obj if is_module else None,
        net=obj,
        classes=None if classes is None else model_label_space(list(classes)),
        digest=digest,
        source={"library": "python callable", "object": type(obj).__qualname__},
        preprocess={"input": repr(ToArray())},
        to_device=to_device,
    )


def adapter_for_object(
    obj: Any,
    kind: str,
    *,
    preprocess: Mapping[str, Any] | Preprocess | None = None,
    classes: Sequence[str] | None = None,
    label_map: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> ModelAdapter:
    """An adapter around a model already in memory (an ``nn.Module`` or any callable), as ``callable:`` builds one."""
    label = name or type(obj).__name__
    spec = ModelSpec.create(f"object:{label}", label_map=label_map)
    return ModelAdapter(
        spec, kind, model_for_object(obj, kind, name=spec.spec, preprocess=preprocess, classes=classes)
    )

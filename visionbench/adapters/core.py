"""The runner-facing adapter: one family's loaded :class:`Model` + the thin head of one task kind.

A family's loader (``family_<name>.py``) builds a :class:`Model` for a task kind: the
network, its weights and digest, device handling, licence and source, and the preprocessing
split in two (a picklable geometric transform to pixels in [0, 1], and mean/std applied in
the forward). A head (:mod:`~visionbench.adapters.heads`, :mod:`~visionbench.adapters.head_detection`)
turns the model's outputs into the canonical predictions of its kind, in the dataset's
label space. :class:`ModelAdapter` joins them behind the :class:`~visionbench.contracts.Adapter`
contract the runner drives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from visionbench.adapters.pixels import PixelModel, ToPixels, describe_preprocess, stack, state_dict_digest
from visionbench.contracts import Adapter, ImageMeta, ModelSpec, TaskInfo
from visionbench.errors import ModelError


class Model:
    """What a loader hands a head: how to run the model and everything recorded about it.

    ``run`` depends on the kind: classification ``run(batch) -> logits [N, M]``; segmentation
    ``run(pixels, sizes) -> logits [N, M, h, w]`` (``sizes`` per image for a padded batch, else
    None); detection ``run(batch, metas) -> [{boxes (original pixels), scores, labels (model
    labels)}]``; captioning ``run(batch, metas) -> [str]`` (one caption per image, in the order of
    ``metas``; generation settings go in ``preprocess["generation"]``, recorded with the
    preprocessing). ``pixels(x01)`` is the same forward on pixels in [0, 1], differentiable; None
    for models that are not (ONNX, plain callables). ``classes`` names the model's outputs
    (classification/segmentation: a list or None; detection: ``{label: name or None}`` or None
    when labels are already dataset category ids); ``aliases`` are extra names of output
    columns (ImageNet WordNet ids).
    """

    def __init__(
        self,
        *,
        name: str,
        transform: Callable[[Any], Any],
        run: Callable[..., Any],
        pixels: Callable[[Any], Any] | None = None,
        module: Any = None,
        net: Any = None,
        collate: Callable[[list[Any]], Any] = stack,
        classes: Any = None,
        aliases: Mapping[str, int] | None = None,
        digest: Callable[[], str] | None = None,
        licence: str = "unknown",
        source: Mapping[str, Any] | None = None,
        preprocess: Mapping[str, Any] | None = None,
        to_device: Callable[[str], None] | None = None,
        class_maps: Callable[[Any, Sequence[ImageMeta]], list[Any]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.name, self.transform, self.run, self.pixels = name, transform, run, pixels
        self.module, self.net, self.collate = module, net, collate
        self.classes, self.aliases = classes, dict(aliases or {})
        self.digest, self.licence = digest, licence
        self.source, self.preprocess = dict(source or {}), dict(preprocess or {})
        self.to_device, self.class_maps, self.extra = to_device, class_maps, dict(extra or {})
        self.device = "cpu"

    def to(self, device: str) -> None:
        self.device = device
        if self.to_device is not None:
            self.to_device(device)
        elif self.module is not None:
            self.module.to(device).eval()


def torch_model(
    net: Any,
    *,
    name: str,
    pixels: ToPixels,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    call: Callable[[Any, Any], Any] | None = None,
    **fields: Any,
) -> Model:
    """A :class:`Model` for a torch network fed normalised ``[N, C, H, W]`` tensors (classification, segmentation).

    The geometric transform runs in the workers; normalisation runs inside :class:`PixelModel`,
    so ``pixels`` is differentiable end to end and ``run`` equals normalising in the workers.
    """
    module = PixelModel(net, mean, std, call)
    model = Model(name=name, transform=pixels, run=None, module=module, net=net, **fields)  # type: ignore[arg-type]

    def run(batch: Any, sizes: Any = None) -> Any:
        return module(batch.to(model.device, non_blocking=True), sizes)

    model.run = run
    model.pixels = lambda x01: module(x01.to(model.device))
    model.preprocess = {**describe_preprocess(pixels, mean, std), **model.preprocess}
    if model.digest is None:
        model.digest = lambda: state_dict_digest(net)
    return model


def is_torch_module(obj: Any) -> bool:
    import torch

    return isinstance(obj, torch.nn.Module)


class ModelAdapter(Adapter):
    """One loaded model bound to one task kind: the object the runner drives (see :class:`Adapter`)."""

    def __init__(self, spec: ModelSpec, kind: str, model: Model) -> None:
        from visionbench.adapters.heads import head_for

        super().__init__(spec)
        self.family = spec.family  # type: ignore[misc]
        self.kinds = frozenset({kind})  # type: ignore[misc]
        self.kind = kind
        self.model = model
        self.head = head_for(kind, self)
        self.differentiable = model.pixels is not None

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        self.model.to(device)
        self.head.bind(task)

    def transform(self) -> Callable[[Any], Any]:
        return self.model.transform

    def collate(self, items: list[Any]) -> Any:
        return self.head.collate(items)

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> Any:
        return self.head.predict(batch, metas)

    def forward_pixels(self, x01: Any) -> Any:
        if self.model.pixels is None:
            raise ModelError(
                f"model '{self.spec.spec}' ({self.family}) is not differentiable: it has no forward on pixels"
            )
        return self.head.forward_pixels(x01)

    @property
    def module(self) -> Any:
        return self.model.module

    def fingerprint(self) -> str:
        if self.model.digest is not None:
            return self.model.digest()
        return state_dict_digest(self.module) if self.module is not None else self.spec.fingerprint

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "name": self.model.name,
            "kind": self.kind,
            "preprocess": self.model.preprocess,
            "source": self.model.source,
            "differentiable": self.differentiable,
            **({"model_labels": _count(self.model.classes)} if self.kind == "detection" else {}),
            **self.model.extra,
        }

    def licence(self) -> str:
        return self.model.licence


def unwrap(output: Any) -> Any:
    """The logits tensor of common outputs: a tensor, ``{"out": ...}``, ``.logits``, or a tuple's first item."""
    if isinstance(output, dict) and "out" in output:
        return output["out"]
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)):
        return output[0]
    return output


def _count(classes: Any) -> int | None:
    return None if classes is None else len(classes)

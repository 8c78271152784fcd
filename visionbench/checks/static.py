"""Checks that read declarations only: the label space used, and the model's licence and source.

* *label space*: the dataset's classes against the model's outputs, how they were matched (an
  explicit label map, class names, or position when the model names none) and the mapping itself,
  which the check command prints and the record keeps (the first ``MAPPING_SHOWN`` entries);
* *model metadata*: a model without a licence or without a source (where its weights came from)
  is flagged, since whether it may be adopted depends on both.
"""

from __future__ import annotations

from typing import Any

from visionbench.checks.findings import CheckReport
from visionbench.contracts import Task

MAPPING_SHOWN = 50
NO_LICENCE = {"", "unknown", "none", "n/a", "see the model's source"}
# source keys that only say which code ran, not where the weights came from
NOT_PROVENANCE = {"library", "object", "architecture", "trust_remote_code"}


def check_label_space(adapter: Any, task: Task, report: CheckReport) -> None:
    """Record how dataset classes meet model outputs; an unnamed model mapped by position is an info finding."""
    from visionbench.adapters.labels import unnamed
    from visionbench.contracts import resolve_label_map

    info = task.info()
    model = getattr(adapter, "model", None)
    label_map = dict(adapter.spec.label_map) or None
    result: dict[str, Any] = {"dataset_classes": len(info.classes)}
    report.results["label_space"] = result
    kind = info.kind
    if model is None or kind not in ("classification", "segmentation", "detection"):
        result["how"] = "not applicable" if model is not None else "not observable (custom adapter)"
        return
    classes = model.classes
    if kind == "detection":
        lookup = getattr(getattr(adapter, "head", None), "lookup", None)
        names = dict(classes) if isinstance(classes, dict) else {}
        result["model_labels"] = len(names) if names else None
        result["how"] = "label map" if label_map else ("names" if names else "category ids as given")
        result["direction"] = "model label -> dataset class"
        if lookup is not None:
            ids = dict(zip(info.category_ids or range(1, len(info.classes) + 1), info.classes, strict=False))
            mapping = {
                f"{label} ({names.get(label) or '-'})": ids.get(int(cid), str(int(cid)))
                for label, cid in enumerate(lookup.tolist())
                if int(cid) >= 0
            }
            result["mapping"] = dict(list(mapping.items())[:MAPPING_SHOWN])
        return
    head = getattr(adapter, "head", None)
    if head is None:
        return
    named = head.model_classes() if hasattr(head, "model_classes") else classes
    outputs = len(classes) if classes is not None else None
    result["model_outputs"] = outputs
    if label_map:
        result["how"] = "label map"
    elif named is None or unnamed(list(named)) is None:
        result["how"] = "position"
    else:
        result["how"] = "names"
    if outputs is None:
        outputs = len(info.classes)
    try:
        columns = resolve_label_map(
            named, outputs, info.classes, label_map,
            model_name=adapter.spec.spec, dataset_name=info.dataset, aliases=model.aliases,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the run itself reports a label map it cannot resolve
        result["error"] = str(exc)
        return
    columns = columns or [(i,) for i in range(len(info.classes))]
    shown = {}
    for name, cols in list(zip(info.classes, columns, strict=False))[:MAPPING_SHOWN]:
        shown[name] = [named[c] if named is not None and c < len(named) else f"output {c}" for c in cols]
    result["mapping"] = shown
    result["direction"] = "dataset class -> model class"
    if result["how"] == "position" and classes is None:
        report.add(
            "label_space", "info",
            f"the model names no classes: the dataset's {len(info.classes)} classes are matched to its outputs "
            "by position; give --label-map or class names if its order differs",
            classes=len(info.classes),
        )  # fmt: skip


def check_metadata(adapter: Any, report: CheckReport) -> None:
    """A missing licence or source is a warning: adoption decisions depend on both."""
    described = adapter.describe()
    licence = str(adapter.licence() or "").strip()
    source = described.get("source") or {}
    weights = getattr(adapter.spec, "weights", None)
    extra: dict[str, Any] = {}
    if isinstance(weights, str) and weights:
        from visionbench.leaderboard.views.card import card_yaml

        extra = card_yaml(weights)
    licence = licence if licence.lower() not in NO_LICENCE else str(extra.get("licence") or "")
    provenance = (
        {k: v for k, v in source.items() if k not in NOT_PROVENANCE and v not in (None, "")}
        if isinstance(source, dict)
        else ({"source": source} if source else {})
    )
    if not provenance and extra.get("source"):
        provenance = {"source": extra["source"]}
    report.results["model_metadata"] = {"licence": licence or None, "source": provenance or None}
    missing = [what for what, have in (("licence", licence), ("source", provenance)) if not have]
    if missing:
        report.add(
            "model_metadata", "warning",
            f"the model declares no {' and no '.join(missing)}: record "
            + ("where its weights come from" if "source" in missing else "its licence")
            + " (loader metadata, or a model_card.yaml beside the weights) before adopting it",
            missing=missing,
        )  # fmt: skip

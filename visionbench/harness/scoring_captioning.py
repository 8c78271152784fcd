"""``visionbench score captioning``: COCO captions ground truth vs a COCO results file, no model.

Ground truth: ``{"images": [{"id", "file_name"?}], "annotations": [{"image_id", "caption"}]}``
(several captions per image). Results: ``[{"image_id", "caption"}]``, exactly one caption per
ground-truth image, as coco-caption requires. Every problem is a :class:`DataError` naming the
file and the entry: an image id the ground truth does not list, a caption that is not a string,
an image captioned twice, ground-truth images without a caption (the first is named, with the
count). The state, intervals and run folder come from the captioning task and
``scoring_runs.publish_score_run``, as for the other kinds, so ``compare``, ``gate`` and
``rescore`` read the folder like any run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionbench.contracts import TaskSpec
from visionbench.errors import DataError


def read_results(path: Path, known: dict[int, Any]) -> dict[int, str]:
    """image id -> caption from a COCO results file, checked against the ground-truth image ids ``known``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, list):
        raise DataError(
            f"{path}: COCO results are a list of {{image_id, caption}} objects, got a {type(data).__name__}"
        )
    captions: dict[int, str] = {}
    first_entry: dict[int, int] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise DataError(
                f"{path}: entry {i} is a {type(entry).__name__}, not an {{image_id, caption}} object"
            )
        image_id, caption = entry.get("image_id"), entry.get("caption")
        if isinstance(image_id, bool) or not isinstance(image_id, int):
            raise DataError(f"{path}: entry {i} has image_id {image_id!r}; expected an integer image id")
        if image_id not in known:
            raise DataError(f"{path}: entry {i} names image id {image_id}, which is not in the ground truth")
        if not isinstance(caption, str):
            raise DataError(
                f"{path}: entry {i} (image id {image_id}) has caption {caption!r} of type "
                f"{type(caption).__name__}; a caption is a string"
            )
        if image_id in captions:
            raise DataError(
                f"{path}: entry {i} captions image id {image_id} again (first in entry {first_entry[image_id]}); "
                "coco-caption scores exactly one caption per image"
            )
        captions[image_id], first_entry[image_id] = caption, i
    missing = [image_id for image_id in known if image_id not in captions]
    if missing:
        raise DataError(
            f"{path}: no caption for image id {missing[0]} of the ground truth "
            f"({len(missing)} of {len(known)} images missing)"
        )
    return captions


def captioning_task(gt_path: Path, pred_path: Path, *, meteor: str = "auto") -> tuple[Any, TaskSpec]:
    """The captioning task's state built from the two files (images in ground-truth id order)."""
    from visionbench.harness.runner import build_task
    from visionbench.harness.scoring_runs import _dataset, content_digest
    from visionbench.tasks.data.caption_datasets import read_coco_captions

    images, references = read_coco_captions(Path(gt_path))
    images.sort(key=lambda im: im["id"])
    captions = read_results(Path(pred_path), references)
    options = (("meteor", meteor),) if meteor != "auto" else ()
    spec = TaskSpec("captioning", "score", Path(gt_path).name, options)
    info = {
        "name": Path(gt_path).name,
        "kind": "captioning",
        "classes": [],
        "fingerprint": content_digest(gt_path),
        "num_samples": len(images),
    }
    task = build_task(spec, _dataset(info))
    ids = [str(im.get("file_name") or im["id"]) for im in images]
    targets = [{"image_id": im["id"], "references": references[im["id"]]} for im in images]
    task.update(list(range(len(images))), [captions[im["id"]] for im in images], targets, ids)
    return task, spec


def score_captioning(gt_path: Path, pred_path: Path, output: Path, *, meteor: str = "auto") -> dict[str, Any]:
    """Score, publish the run folder, and return ``{task, num_samples, metrics, notes, record}``."""
    from visionbench.harness.record import read_record
    from visionbench.harness.scoring_runs import publish_score_run

    task, spec = captioning_task(gt_path, pred_path, meteor=meteor)
    directory = publish_score_run(task, spec, Path(pred_path), Path(output))
    record = read_record(directory / "record.json")
    metrics = {k: v for k, v in record["metrics"].items() if v is not None}
    scoring = (record.get("task") or {}).get("scoring") or {}
    return {
        "task": "captioning",
        "num_samples": task.num_updated(),
        "metrics": metrics,
        "scoring": scoring,
        "record": str(directory / "record.json"),
    }


def print_score(args: Any) -> int:
    """The ``score captioning`` command: metrics as a table (or JSON with ``--json``) and the run folder."""
    result = score_captioning(Path(args.gt), Path(args.pred), Path(args.output), meteor=args.meteor)
    if args.json:
        from visionbench.harness.cli import _emit_json

        _emit_json(result)
        return 0
    for key, value in result["metrics"].items():
        print(f"{key:24s} {value:.6f}")
    meteor_note = result["scoring"].get("meteor", "")
    if "meteor" not in result["metrics"] and meteor_note:
        print(f"  (meteor: {meteor_note})")
    print(f"  -> {result['record']}")
    return 0

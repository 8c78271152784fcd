"""Bad-input cases of ``score captioning`` (COCO captions ground truth vs COCO results) and captioning tasks."""

from __future__ import annotations

import json
from pathlib import Path

from bad_input_support import Case


def build_caption_files(d: Path) -> None:
    """A two-image captions file and results files that are wrong in one way each."""
    gt = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [
            {"id": 1, "image_id": 1, "caption": "A red square on a table."},
            {"id": 2, "image_id": 1, "caption": "A square, red."},
            {"id": 3, "image_id": 2, "caption": "Two blue circles."},
        ],
    }
    (d / "cap_gt.json").write_text(json.dumps(gt))
    (d / "cap_gt_bare.json").write_text(json.dumps({**gt, "annotations": gt["annotations"][:2]}))
    empty = [{**gt["annotations"][0], "caption": ""}, *gt["annotations"][1:]]
    (d / "cap_gt_empty.json").write_text(json.dumps({**gt, "annotations": empty}))
    good = [{"image_id": 1, "caption": "a red square"}, {"image_id": 2, "caption": "blue circles"}]
    (d / "cap_ok.json").write_text(json.dumps(good))
    (d / "cap_unknown.json").write_text(json.dumps([*good, {"image_id": 99, "caption": "a cat"}]))
    (d / "cap_missing.json").write_text(json.dumps(good[:1]))
    (d / "cap_number.json").write_text(json.dumps([{"image_id": 1, "caption": 5}, good[1]]))
    (d / "cap_null.json").write_text(json.dumps([good[0], {"image_id": 2, "caption": None}]))
    (d / "cap_twice.json").write_text(json.dumps([*good, {"image_id": 1, "caption": "again"}]))
    (d / "cap_dict.json").write_text(json.dumps({"results": good}))
    (d / "cap_id_text.json").write_text(json.dumps([{"image_id": "1", "caption": "x"}, good[1]]))


def _score(pred: str, gt: str = "cap_gt.json", *extra: str) -> tuple[str, ...]:
    return (
        "score",
        "captioning",
        "--gt",
        f"{{d}}/{gt}",
        "--pred",
        f"{{d}}/{pred}",
        "--meteor",
        "off",
        *extra,
    )


CAPTION_CASES = [
    Case("score-cap-unknown-image", _score("cap_unknown.json"), 2, "entry 2 names image id 99, which is not in the ground truth"),
    Case("score-cap-missing-image", _score("cap_missing.json"), 2, "no caption for image id 2 of the ground truth"),
    Case("score-cap-not-string", _score("cap_number.json"), 2, "entry 0 (image id 1) has caption 5 of type int"),
    Case("score-cap-null", _score("cap_null.json"), 2, "entry 1 (image id 2) has caption None of type NoneType"),
    Case("score-cap-twice", _score("cap_twice.json"), 2, "entry 2 captions image id 1 again (first in entry 0)"),
    Case("score-cap-dict", _score("cap_dict.json"), 2, "cap_dict.json: COCO results are a list"),
    Case("score-cap-id-text", _score("cap_id_text.json"), 2, "entry 0 has image_id '1'; expected an integer"),
    Case("score-cap-gt-no-reference", _score("cap_ok.json", "cap_gt_bare.json"), 2, "image id 2 has no reference caption"),
    Case("score-cap-gt-empty-caption", _score("cap_ok.json", "cap_gt_empty.json"), 2, "annotations entry 0 (image id 1) has caption ''"),
    Case("score-cap-meteor-choice", _score("cap_ok.json", "cap_gt.json", "--meteor", "maybe"), 2, "argument --meteor: invalid choice"),
    Case("score-cap-ok", _score("cap_ok.json", "cap_gt.json", "--json", "--output", "{d}/out"), 0, ""),
    Case(
        "run-cap-meteor-option",
        ("run", "--no-track", "--model", "zoo:shapes-captioner-tiny", "--task", "captioning:shapes?meteor=maybe"),
        2,
        "captioning:shapes: option meteor=maybe: not allowed",
    ),
    Case(
        "run-cap-classifier-on-captions",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "captioning:shapes?n=2&meteor=off"),
        2,
        "zoo model 'digits-linear' is a classification model, not a captioner",
    ),
]  # fmt: skip

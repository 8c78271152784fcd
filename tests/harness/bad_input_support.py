"""What the bad-input table needs: the case record and the files the cases read.

The cases themselves are in ``bad_input_run_cases.py`` (run and the other commands) and
``bad_input_score_cases.py`` (score); ``test_bad_input.py`` runs them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{d}" is the case's folder
    code: int
    fragment: str
    env: tuple[tuple[str, str], ...] = ()


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


MODELS = """
import numpy as np
import torch


class Out(torch.nn.Module):
    \"\"\"A digits classifier that returns what ``kind`` says instead of logits [N, 10].\"\"\"

    def __init__(self, kind):
        super().__init__()
        self.kind, self.w = kind, torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n = x.shape[0]
        good = torch.zeros(n, 10) + self.w
        out = {"none": None, "dict": {"scores": good}, "list": [0.5] * n, "numpy": good.detach().numpy(),
               "rank1": good[:, 0], "rank3": good[:, :, None], "short": good[:-1], "nan": good.clone()}
        if self.kind == "nan":
            out["nan"][1, 3] = float("nan")
        if self.kind == "raises":
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return out[self.kind]


def build(kind):
    return Out(kind)
"""


def build_files(d: Path) -> None:
    """Every file the cases read, small enough to build for each test."""
    (d / "vbmodels.py").write_text(MODELS)
    (d / "gt.csv").write_text("id,label\na,cat\nb,dog\n")
    (d / "pred.csv").write_text("id,label\na,cat\nb,cat\n")
    (d / "header_gt.csv").write_text("id,label\n")
    (d / "header_pred.csv").write_text("id,label\n")
    (d / "empty.csv").write_text("")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (d / "latin1.csv").write_bytes("id,label\na,caf\xe9\n".encode("latin-1"))
    (d / "one_gt.csv").write_text("id,label\na,cat\nb,cat\n")
    (d / "one_scores.csv").write_text("id,cat\na,0.9\nb,0.2\n")
    (d / "nan_scores.csv").write_text("id,cat,dog\na,nan,0.1\nb,0.3,0.7\n")
    (d / "dup_columns.csv").write_text("id,cat,cat\na,0.9,0.1\nb,0.3,0.7\n")
    (d / "short_row.csv").write_text("id,label\na\nb,cat\n")
    (d / "unknown_label.csv").write_text("id,cat,dog\na,0.9,0.1\nb,0.3,0.7\n")
    (d / "unicode_gt.csv").write_text("id,label\na,猫\nb,犬\n", encoding="utf-8")
    (d / "unicode_pred.csv").write_text("id,猫,犬\na,0.9,0.1\nb,0.3,0.7\n", encoding="utf-8")
    (d / "a_dir.csv").mkdir()
    gt = {
        "images": [{"id": 1, "file_name": "a.png", "height": 10, "width": 10}],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [1, 1, 4, 4],
                "area": 16,
                "iscrowd": 0,
                "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]],
            }
        ],
    }
    (d / "gt.json").write_text(json.dumps(gt))
    det = {"image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "score": 0.9}
    (d / "bad_rle.json").write_text(
        json.dumps([{**det, "segmentation": {"size": [10, 10], "counts": "not an rle!"}}])
    )
    (d / "short_rle.json").write_text(
        json.dumps([{**det, "segmentation": {"size": [10, 10], "counts": "52"}}])
    )
    (d / "nan_score.json").write_text(
        '[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4], "score": NaN}]'
    )
    (d / "wrong_image.json").write_text(json.dumps([{**det, "image_id": 7}]))
    (d / "dict_results.json").write_text(json.dumps({"detections": [det]}))
    (d / "truncated.json").write_text(json.dumps([det])[:-5])
    (d / "numbers.json").write_text("[1, 2, 3]")
    (d / "neg_box.json").write_text(json.dumps([{**det, "bbox": [1, 1, -4, 4]}]))
    (d / "huge_id.json").write_text(json.dumps([{**det, "image_id": 10**30}]))
    (d / "bad_gt.json").write_text(json.dumps({"images": "x", "annotations": [], "categories": []}))
    for name in ("gtm", "predm", "small", "badpng", "predextra"):
        (d / name).mkdir()
    _png(d / "gtm" / "a.png", np.zeros((4, 4)))
    _png(d / "predm" / "a.png", np.zeros((4, 4)))
    _png(d / "small" / "a.png", np.zeros((2, 2)))
    (d / "badpng" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _png(d / "predextra" / "a.png", np.full((4, 4), 9))
    (d / "names.txt").write_text("\n\n# only a comment\n")
    (d / "binary.txt").write_bytes(b"\xff\xfe\x00\x01" * 20)
    (d / "map.json").write_text("[1, 2]")
    (d / "broken.yaml").write_text("a: [1, 2\n")
    (d / "empty.yaml").write_text("")
    (d / "a_file").write_text("x")
    (d / "bad_rules.yaml").write_text("classification: [top1\n")
    (d / "rules_key.yaml").write_text("classification:\n  metrics:\n    top1: {margins: 0.01}\n")
    (d / "rules_margin.yaml").write_text("detection:\n  metrics:\n    map: {margin: -1}\n")
    (d / "notarun").mkdir()
    (d / "run" / "x").mkdir(parents=True)
    (d / "run" / "record.json").write_text("{not json")
    one = d / "oneclass" / "cat"
    one.mkdir(parents=True)
    for i in range(3):
        _png(one / f"{i}.png", np.full((8, 8), 40 * i))
    two = d / "twoclass"
    for cls in ("0", "1"):
        for i in range(2):
            _png(two / cls / f"{i}.png", np.full((8, 8), 60 * i))
    (two / "1" / "bad.png").write_bytes(b"")

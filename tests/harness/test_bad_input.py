"""Bad input never ends in a traceback: the table of docs/bad-input.md, one test per row.

Each case runs ``visionbench`` in-process on files built in a fresh folder and checks the exit
code (2: bad input, 3: internal error), a fragment of the one-line message that names the
option, file or sample at fault, and that no traceback was printed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
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
PIXELS = 'preprocess={"mode": "L", "size": [8, 8], "mean": [0.5], "std": [0.5]}'
OUT = ("run", "--no-track", "--task", "digits", "--limit", "4", "--bootstrap", "0", "--model-arg", PIXELS,
       "--model", "callable:vbmodels:build", "--model-arg")  # fmt: skip


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


RUN = ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "4")
GATE = ("--baseline", "{d}/notarun", "--candidate", "{d}/notarun")
CASES = [
    # --- run: execution options
    Case("batch-size-zero", (*RUN, "--batch-size", "0"), 2, "--batch-size 0"),
    Case("batch-size-text", (*RUN, "--batch-size", "ten"), 2, "--batch-size"),
    Case("limit-negative", (*RUN, "--limit", "-5"), 2, "--limit -5"),
    Case("workers-negative", (*RUN, "--workers", "-1"), 2, "--workers -1"),
    Case("device-cpu-abc", (*RUN, "--device", "cpu:abc"), 2, "--device 'cpu:abc'"),
    Case("device-cuda-x", (*RUN, "--device", "cuda:x"), 2, "--device 'cuda:x'"),
    Case("device-tpu", (*RUN, "--device", "tpu"), 2, "--device 'tpu'"),
    Case("bootstrap-negative", (*RUN, "--bootstrap", "-3"), 2, "--bootstrap -3"),
    Case("bootstrap-huge", (*RUN, "--bootstrap", "1000000000"), 2, "--bootstrap 1000000000"),
    Case("precision-fp8", (*RUN, "--precision", "fp8"), 2, "--precision"),
    Case("output-is-a-file", (*RUN, "--output", "{d}/a_file"), 2, "--output"),
    Case("suite-empty", (*RUN, "--suite", ""), 2, "--suite"),
    Case(
        "tracking-uri-scheme",
        ("run", "--model", "zoo:digits-linear", "--task", "digits", "--tracking-uri", "foo://bar"),
        2,
        "unknown scheme 'foo'",
    ),  # fmt: skip
    Case(
        "tracking-uri-sqlite-dir",
        (
            "run",
            "--model",
            "zoo:digits-linear",
            "--task",
            "digits",
            "--tracking-uri",
            "sqlite:///missing/dir/x.db",
        ),
        2,
        "missing/dir",
    ),  # fmt: skip
    Case(
        "tracking-uri-env",
        ("run", "--model", "zoo:digits-linear", "--task", "digits"),
        2,
        "$MLFLOW_TRACKING_URI",
        (("MLFLOW_TRACKING_URI", "bogus://x"),),
    ),  # fmt: skip
    Case("tracking-uri-http-no-host", (*RUN, "--tracking-uri", "http://"), 2, "no host"),
    # --- run: specs and options
    Case("model-spec-no-name", ("run", "--no-track", "--model", "zoo:", "--task", "digits"), 2, "'zoo:'"),
    Case("model-spec-unicode", ("run", "--no-track", "--model", "zoo:模型", "--task", "digits"), 2, "模型"),
    Case(
        "task-option-unknown",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits?colour=blue"),
        2,
        "'colour' (accepted: split=",
    ),  # fmt: skip
    Case(
        "task-option-value",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits?split=validation"),
        2,
        "split=validation",
    ),  # fmt: skip
    Case(
        "task-option-not-int",
        ("run", "--no-track", "--model", "zoo:shapes-fcn", "--task", "shapes-segmentation?n=many"),
        2,
        "n=many",
    ),  # fmt: skip
    Case(
        "task-option-huge-size",
        ("run", "--no-track", "--model", "zoo:shapes-fcn", "--task", "shapes-segmentation?size=100000"),
        2,
        "size=100000",
    ),  # fmt: skip
    Case(
        "task-option-no-equals",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "digits?split"),
        2,
        "'split' must be key=value",
    ),  # fmt: skip
    Case("task-arg-unknown", (*RUN, "--task-arg", "shuffle=true"), 2, "'shuffle'"),
    Case(
        "seg-num-classes-huge",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:shapes-fcn",
            "--task",
            "segmentation:folder:{d}?num_classes=10000000",
        ),
        2,
        "num_classes=10000000",
    ),  # fmt: skip
    Case(
        "imagefolder-missing",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--task",
            "classification:imagefolder:{d}/nowhere",
        ),
        2,
        "nowhere",
    ),  # fmt: skip
    Case(
        "imagefolder-is-a-file",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--task",
            "classification:imagefolder:{d}/a_file",
        ),
        2,
        "a_file",
    ),  # fmt: skip
    Case(
        "imagefolder-empty-image",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--label-map",
            "0=0,1=1",
            "--task",
            "classification:imagefolder:{d}/twoclass",
        ),
        2,
        "bad.png",
    ),  # fmt: skip
    Case(
        "csv-manifest-binary",
        ("run", "--no-track", "--model", "zoo:digits-linear", "--task", "classification:csv:{d}/binary.csv"),
        2,
        "binary.csv",
    ),  # fmt: skip
    Case(
        "coco-task-bad-json",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:shapes-centernet",
            "--task",
            "detection:coco:{d}/truncated.json",
        ),
        2,
        "truncated.json",
    ),  # fmt: skip
    Case("model-arg-zoo-unknown", (*RUN, "--model-arg", "depth=3"), 2, "unknown option 'depth'"),
    Case("weights-for-zoo", (*RUN, "--weights", "DEFAULT"), 2, "--weights DEFAULT"),
    Case("model-arg-no-equals", (*RUN, "--model-arg", "depth"), 2, "--model-arg 'depth'"),
    Case(
        "model-arg-torchvision-unknown",
        (
            "run",
            "--no-track",
            "--model",
            "torchvision:resnet18",
            "--model-arg",
            "colour=1",
            "--task",
            "digits",
        ),
        2,
        "'colour'",
    ),  # fmt: skip
    Case(
        "model-arg-preprocess-type",
        (
            "run",
            "--no-track",
            "--model",
            "torchvision:resnet18",
            "--model-arg",
            "preprocess=3",
            "--task",
            "digits",
        ),
        2,
        "preprocess",
    ),  # fmt: skip
    Case(
        "model-arg-preprocess-std-zero",
        (
            "run",
            "--no-track",
            "--model",
            "torchvision:resnet18",
            "--model-arg",
            'preprocess={"std": [0, 1, 1]}',
            "--task",
            "digits",
        ),
        2,
        "std",
    ),  # fmt: skip
    Case("label-map-file-list", (*RUN, "--label-map", "{d}/map.json"), 2, "map.json"),
    Case("label-map-broken-yaml", (*RUN, "--label-map", "{d}/broken.yaml"), 2, "broken.yaml"),
    Case("label-map-empty-yaml", (*RUN, "--label-map", "{d}/empty.yaml"), 2, "empty.yaml"),
    Case("label-map-missing-file", (*RUN, "--label-map", "{d}/none.json"), 2, "none.json"),
    Case("label-map-inline-empty", (*RUN, "--label-map", "0="), 2, "'0'"),
    Case(
        "one-class-imagefolder",
        (
            "run",
            "--no-track",
            "--model",
            "zoo:digits-linear",
            "--label-map",
            "cat=3",
            "--task",
            "classification:imagefolder:{d}/oneclass",
            "--bootstrap",
            "0",
        ),
        0,
        "",
    ),  # fmt: skip
    # --- what a model returns
    Case(
        "output-none",
        (*OUT, "kind=none"),
        2,
        "returned None for the batch starting at sample 'digits-test-00000'",
    ),
    Case(
        "output-dict", (*OUT, "kind=dict"), 2, "callable:vbmodels:build' returned a dict with keys ['scores']"
    ),
    Case("output-list", (*OUT, "kind=list"), 2, "callable:vbmodels:build' returned a float"),
    Case("output-rank1", (*OUT, "kind=rank1"), 2, "returned logits of shape [4]"),
    Case("output-rank3", (*OUT, "kind=rank3"), 2, "returned logits of shape [4, 10, 1]"),
    Case(
        "output-short-batch",
        (*OUT, "kind=short"),
        2,
        "3 rows for a batch of 4 images (first sample without its own row: 'digits-test-00003')",
    ),
    Case("output-nan", (*OUT, "kind=nan"), 2, "NaN or infinite logits for sample 'digits-test-00001'"),
    Case(
        "output-raises",
        (*OUT, "kind=raises"),
        2,
        "failed on the batch starting at sample 'digits-test-00000'",
    ),
    Case("output-numpy", (*OUT, "kind=numpy"), 0, ""),
    # --- score classification
    Case(
        "score-cls-header-only",
        ("score", "classification", "--gt", "{d}/header_gt.csv", "--pred", "{d}/header_pred.csv"),
        2,
        "header_gt.csv",
    ),  # fmt: skip
    Case(
        "score-cls-empty",
        ("score", "classification", "--gt", "{d}/empty.csv", "--pred", "{d}/pred.csv"),
        2,
        "empty.csv",
    ),
    Case(
        "score-cls-binary",
        ("score", "classification", "--gt", "{d}/binary.csv", "--pred", "{d}/pred.csv"),
        2,
        "binary.csv",
    ),  # fmt: skip
    Case(
        "score-cls-latin1",
        ("score", "classification", "--gt", "{d}/latin1.csv", "--pred", "{d}/pred.csv"),
        2,
        "latin1.csv",
    ),  # fmt: skip
    Case(
        "score-cls-directory",
        ("score", "classification", "--gt", "{d}/a_dir.csv", "--pred", "{d}/pred.csv"),
        2,
        "a_dir.csv",
    ),  # fmt: skip
    Case(
        "score-cls-missing",
        ("score", "classification", "--gt", "{d}/no.csv", "--pred", "{d}/pred.csv"),
        2,
        "no.csv",
    ),  # fmt: skip
    Case(
        "score-cls-short-row",
        ("score", "classification", "--gt", "{d}/short_row.csv", "--pred", "{d}/pred.csv"),
        2,
        "short_row.csv:2",
    ),  # fmt: skip
    Case(
        "score-cls-nan-score",
        ("score", "classification", "--gt", "{d}/gt.csv", "--pred", "{d}/nan_scores.csv"),
        2,
        "'a'",
    ),  # fmt: skip
    Case(
        "score-cls-duplicate-columns",
        ("score", "classification", "--gt", "{d}/one_gt.csv", "--pred", "{d}/dup_columns.csv"),
        2,
        "repeated: cat",
    ),  # fmt: skip
    Case(
        "score-cls-one-class",
        ("score", "classification", "--gt", "{d}/one_gt.csv", "--pred", "{d}/one_scores.csv", "--json"),
        0,
        "",
    ),  # fmt: skip
    Case(
        "score-cls-unicode",
        ("score", "classification", "--gt", "{d}/unicode_gt.csv", "--pred", "{d}/unicode_pred.csv", "--json"),
        0,
        "",
    ),  # fmt: skip
    # --- score detection
    Case(
        "score-det-bad-rle",
        ("score", "detection", "--iou-type", "segm", "--gt", "{d}/gt.json", "--pred", "{d}/bad_rle.json"),
        2,
        "[0]",
    ),  # fmt: skip
    Case(
        "score-det-short-rle",
        ("score", "detection", "--iou-type", "segm", "--gt", "{d}/gt.json", "--pred", "{d}/short_rle.json"),
        2,
        "counts",
    ),  # fmt: skip
    Case(
        "score-det-nan-score",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/nan_score.json"),
        2,
        "'score' must be finite",
    ),  # fmt: skip
    Case(
        "score-det-unknown-image",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/wrong_image.json"),
        2,
        "image_id 7",
    ),  # fmt: skip
    Case(
        "score-det-dict",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/dict_results.json"),
        2,
        "dict_results.json",
    ),  # fmt: skip
    Case(
        "score-det-truncated",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/truncated.json"),
        2,
        "not valid JSON",
    ),  # fmt: skip
    Case(
        "score-det-numbers",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/numbers.json"),
        2,
        "[0]",
    ),  # fmt: skip
    Case(
        "score-det-negative-box",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/neg_box.json"),
        2,
        "width and height",
    ),  # fmt: skip
    Case(
        "score-det-huge-id",
        ("score", "detection", "--gt", "{d}/gt.json", "--pred", "{d}/huge_id.json"),
        2,
        "64 bits",
    ),  # fmt: skip
    Case(
        "score-det-bad-gt",
        ("score", "detection", "--gt", "{d}/bad_gt.json", "--pred", "{d}/numbers.json"),
        2,
        "bad_gt.json",
    ),  # fmt: skip
    Case(
        "score-det-gt-is-folder",
        ("score", "detection", "--gt", "{d}/gtm", "--pred", "{d}/numbers.json"),
        2,
        "--gt",
    ),  # fmt: skip
    # --- score segmentation
    Case(
        "score-seg-num-classes-huge",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/predm", "--num-classes", "10000000"),
        2,
        "--num-classes 10000000",
    ),  # fmt: skip
    Case(
        "score-seg-num-classes-zero",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/predm", "--num-classes", "0"),
        2,
        "--num-classes 0",
    ),  # fmt: skip
    Case(
        "score-seg-ignore-is-class",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--ignore-index",
            "1",
        ),
        2,
        "ignore_index 1",
    ),  # fmt: skip
    Case(
        "score-seg-ignore-range",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--ignore-index",
            "-7",
        ),
        2,
        "--ignore-index -7",
    ),  # fmt: skip
    Case(
        "score-seg-size-mismatch",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/small", "--num-classes", "3"),
        2,
        "small/a.png",
    ),  # fmt: skip
    Case(
        "score-seg-broken-png",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/badpng", "--num-classes", "3"),
        2,
        "badpng/a.png",
    ),  # fmt: skip
    Case(
        "score-seg-out-of-range",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/predextra", "--num-classes", "3"),
        2,
        "predextra/a.png",
    ),  # fmt: skip
    Case(
        "score-seg-pred-is-file",
        ("score", "segmentation", "--gt", "{d}/gtm", "--pred", "{d}/gt.csv", "--num-classes", "3"),
        2,
        "--pred",
    ),  # fmt: skip
    Case(
        "score-seg-names-empty",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--class-names",
            "{d}/names.txt",
        ),
        2,
        "names.txt",
    ),  # fmt: skip
    Case(
        "score-seg-names-binary",
        (
            "score",
            "segmentation",
            "--gt",
            "{d}/gtm",
            "--pred",
            "{d}/predm",
            "--num-classes",
            "3",
            "--class-names",
            "{d}/binary.txt",
        ),
        2,
        "binary.txt",
    ),  # fmt: skip
    # --- other commands
    Case("leaderboard-port", ("leaderboard", "--port", "99999"), 2, "--port 99999"),
    Case("leaderboard-host", ("leaderboard", "--host", "bad host!"), 2, "--host"),
    Case("leaderboard-source", ("leaderboard", "--source", "foo://bar"), 2, "--source"),
    Case("sync-output-file", ("sync", "--output", "{d}/a_file"), 2, "--output"),
    Case("sync-tracking-uri", ("sync", "--output", "{d}", "--tracking-uri", "nope://x"), 2, "'nope'"),
    Case("rescore-not-a-run", ("rescore", "{d}/notarun"), 2, "notarun"),
    Case("rescore-file", ("rescore", "{d}/a_file"), 2, "a_file"),
    Case("rescore-bad-record", ("rescore", "{d}/run"), 2, "record.json"),
    Case("list-what", ("list", "everything"), 2, "invalid choice"),
    Case("compare-not-a-run", ("compare", "{d}/notarun", "{d}/notarun"), 2, "notarun is not a run folder"),
    Case("compare-missing-run", ("compare", "{d}/nothere", "abc123"), 2, "no run folder or record at"),
    Case(
        "compare-bootstrap-zero",
        ("compare", "{d}/notarun", "{d}/notarun", "--bootstrap", "0"),
        2,
        "--bootstrap 0",
    ),
    Case("compare-seed-negative", ("compare", "{d}/notarun", "{d}/notarun", "--seed", "-1"), 2, "--seed -1"),
    Case(
        "gate-baseline-not-a-run",
        ("gate", "--baseline", "{d}/notarun", "--candidate", "{d}/notarun"),
        2,
        "notarun",
    ),
    Case(
        "gate-rules-missing",
        ("gate", *GATE, "--rules", "{d}/nope.yaml"),
        2,
        "--rules {d}/nope.yaml: file not found",
    ),
    Case("gate-rules-not-yaml", ("gate", *GATE, "--rules", "{d}/bad_rules.yaml"), 2, "not valid YAML"),
    Case(
        "gate-rules-unknown-key",
        ("gate", *GATE, "--rules", "{d}/rules_key.yaml"),
        2,
        "top1: unknown key 'margins'",
    ),
    Case("gate-rules-negative-margin", ("gate", *GATE, "--rules", "{d}/rules_margin.yaml"), 2, "margin"),
    Case("gate-junit-folder", ("gate", *GATE, "--junit", "{d}"), 2, "--junit"),
    Case("gate-markdown-no-folder", ("gate", *GATE, "--markdown", "{d}/nofolder/gate.md"), 2, "--markdown"),
    Case(
        "plan-gate-not-a-run",
        ("plan-gate", "{d}/notarun", "--drop", "0.01", "--margin", "0.02"),
        2,
        "notarun",
    ),
    Case(
        "plan-gate-power", ("plan-gate", "{d}/notarun", "--drop", "0.03", "--power", "1.5"), 2, "--power 1.5"
    ),
    Case(
        "score-output-file",
        ("score", "classification", "--gt", "{d}/gt.csv", "--pred", "{d}/pred.csv", "--output", "{d}/a_file"),
        2,
        "--output",
    ),
    Case("demo-batch-size", ("demo", "--batch-size", "-1"), 2, "--batch-size -1"),
    Case("unknown-command", ("frobnicate",), 2, "invalid choice"),
]


@pytest.fixture
def files(workdir: Path) -> Path:
    build_files(workdir)
    return workdir


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, files: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in case.env:
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(files))  # vbmodels.py
    args = [a.replace("{d}", str(files)) for a in case.args]
    code, out, err = cli(*args)
    assert "Traceback" not in err, err
    assert code == case.code, err
    if case.code == 0:
        return
    assert case.fragment.replace("{d}", str(files)) in err, err
    if not err.startswith("usage:"):  # argparse prints its usage, then the error line
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("visionbench: error: "), err
    assert out == ""


def test_internal_error_is_one_line_exit_3(workdir: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import visionbench.harness.cli as cli_module

    def boom(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli_module, "_dispatch", boom)
    code, out, err = cli("list")
    assert code == 3 and out == ""
    assert err.strip() == (
        "visionbench: internal error: ZeroDivisionError: a bug (run with --debug for the traceback)"
    )
    code, _, err = cli("--debug", "list")
    assert code == 3 and "Traceback" in err and "ZeroDivisionError: a bug" in err
    code, _, err = cli("list", "--debug")
    assert code == 3 and "Traceback" in err


def test_every_option_is_declared() -> None:
    from visionbench.harness.cli import build_parser
    from visionbench.harness.cli_checks import SCHEMA, add_debug_flag, declared_dests

    parser = build_parser()
    add_debug_flag(parser)
    missing = declared_dests(parser) - set(SCHEMA)
    assert not missing, (
        f"declare these options in visionbench/harness/cli_checks.py SCHEMA: {sorted(missing)}"
    )


def test_every_dataset_source_declares_its_options() -> None:
    from visionbench.registry import dataset_options, dataset_sources

    for kind, sources in dataset_sources().items():
        for source, _ in sources:
            assert dataset_options(kind, source) is not None, f"{kind}:{source}"


def test_docs_table_matches_the_cases() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Cases", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)
    assert sorted(rows) == sorted(c.id for c in CASES)
    assert len(rows) >= 40

"""``visionbench score`` inputs: classification CSVs, COCO ground truth and results, mask folders.

Whatever the files hold, scoring ends in a result or a clean VisionbenchError, and the CLI in
exit code 0 or 2 with no traceback.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
from conftest import scratch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from strategies import json_values, numbers, text

from visionbench.errors import VisionbenchError

ids = st.sampled_from(["a", "b", "c", "", "a ", "猫", "1"])
labels = st.sampled_from(["cat", "dog", "", " cat", "0", "猫"])
cells = st.one_of(labels, numbers.map(str), text)


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


gt_csv = st.one_of(
    st.lists(st.tuples(ids, labels).map(list), max_size=6).map(lambda rows: _csv(["id", "label"], rows)),
    st.lists(st.lists(cells, max_size=4), max_size=5).map(lambda rows: _csv(["id", "label"], rows)),
    text,
)
pred_csv = st.one_of(
    st.lists(st.tuples(ids, labels).map(list), max_size=6).map(lambda rows: _csv(["id", "label"], rows)),
    st.tuples(st.lists(labels, max_size=4), st.lists(st.lists(cells, max_size=5), max_size=6)).map(
        lambda hr: _csv(["id", *hr[0]], [[r[0] if r else "a", *r[1:]] for r in hr[1]])
    ),
    st.lists(st.lists(cells, max_size=4), max_size=5).map(lambda rows: _csv(["id"], rows)),
    text,
)


def _cli(*args: str) -> tuple[int, str]:
    import contextlib
    import tempfile

    from visionbench.harness.cli import main

    err = io.StringIO()
    with (
        tempfile.TemporaryDirectory() as out,
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        extra = ["--output", out] if args and args[0] == "score" else []  # score writes a run folder
        try:
            code = main([*args, *extra])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


@given(gt_csv, pred_csv, st.one_of(st.none(), st.binary(max_size=64)))
def test_score_classification(gt: str, pred: str, raw: bytes | None) -> None:
    from visionbench.harness.scoring import score_classification

    with scratch() as d:
        (d / "gt.csv").write_text(gt, encoding="utf-8")
        (d / "pred.csv").write_bytes(raw) if raw is not None else (d / "pred.csv").write_text(
            pred, encoding="utf-8"
        )
        try:
            result = score_classification(d / "gt.csv", d / "pred.csv")
        except VisionbenchError:
            return
        assert result["num_samples"] >= 1
        assert all(v is None or np.isnan(v) or 0 <= v <= 1 for v in result["metrics"].values())
        code, err = _cli("score", "classification", "--gt", str(d / "gt.csv"), "--pred", str(d / "pred.csv"))
        assert code == 0 and "Traceback" not in err, err


def _coco_gt(draw) -> dict:
    n_images = draw(st.integers(0, 3))
    images = [
        {
            "id": i + 1,
            "file_name": f"{i}.png",
            "height": draw(st.integers(1, 12)),
            "width": draw(st.integers(1, 12)),
        }
        for i in range(n_images)
    ]
    categories = [{"id": c, "name": draw(st.sampled_from(["box", "ball", "猫", ""]))} for c in (1, 2)]
    annotations = []
    for k in range(draw(st.integers(0, 4))):
        ann = {
            "id": k + 1,
            "image_id": draw(st.integers(0, n_images + 1)),
            "category_id": draw(st.sampled_from([1, 2, 3])),
            "bbox": draw(st.one_of(st.lists(st.floats(-2, 20), min_size=4, max_size=4), json_values)),
            "iscrowd": draw(st.sampled_from([0, 1, 0, True, "0"])),
        }
        if draw(st.booleans()):
            ann["segmentation"] = draw(segmentations)
        if draw(st.booleans()):
            ann["area"] = draw(numbers)
        annotations.append(ann)
    data = {"images": images, "annotations": annotations, "categories": categories}
    if draw(st.integers(0, 5)) == 0:  # now and then, break the structure itself
        key = draw(st.sampled_from(sorted(data)))
        data[key] = draw(json_values)
    return data


rle_counts = st.one_of(
    st.text(st.characters(min_codepoint=40, max_codepoint=120), max_size=12),
    st.lists(st.integers(-3, 150), max_size=6),
    json_values,
)
segmentations = st.one_of(
    st.fixed_dictionaries({"size": st.one_of(st.just([10, 10]), json_values), "counts": rle_counts}),
    st.lists(st.lists(st.floats(-5, 15, allow_nan=False), max_size=10), max_size=2),
    json_values,
)


@st.composite
def coco_pair(draw) -> tuple[dict, object]:
    gt = draw(st.composite(lambda d: _coco_gt(d))())
    dets = []
    for _ in range(draw(st.integers(0, 4))):
        det = {
            "image_id": draw(st.integers(0, 4)),
            "category_id": draw(st.sampled_from([1, 2, 5])),
            "score": draw(st.one_of(st.floats(0, 1), numbers, text)),
        }
        if draw(st.booleans()):
            det["bbox"] = draw(st.one_of(st.lists(st.floats(-2, 20), min_size=4, max_size=4), json_values))
        if draw(st.booleans()):
            det["segmentation"] = draw(segmentations)
        dets.append(det)
    results = draw(st.one_of(st.just(dets), json_values)) if draw(st.integers(0, 5)) == 0 else dets
    return gt, results


@given(coco_pair(), st.sampled_from(["bbox", "segm"]))
def test_score_detection(pair: tuple[dict, object], iou_type: str) -> None:
    from visionbench.harness.scoring_detection import score_detection

    gt, results = pair
    with scratch() as d:
        (d / "gt.json").write_text(json.dumps(gt), encoding="utf-8")
        (d / "pred.json").write_text(json.dumps(results), encoding="utf-8")
        try:
            out = score_detection(d / "gt.json", d / "pred.json", iou_type=iou_type)
        except VisionbenchError:
            return
        assert set(out["metrics"]) >= {"map", "map_50"}


@given(st.binary(max_size=120), st.binary(max_size=120))
def test_score_detection_bytes(gt: bytes, pred: bytes) -> None:
    with scratch() as d:
        (d / "gt.json").write_bytes(gt)
        (d / "pred.json").write_bytes(pred)
        code, err = _cli("score", "detection", "--gt", str(d / "gt.json"), "--pred", str(d / "pred.json"))
        assert code == 2 and "Traceback" not in err, err


mask_modes = st.sampled_from(["L", "P", "I;16", "1", "RGB", "RGBA", "LA"])


@st.composite
def mask_image(draw) -> bytes | Image.Image:
    if draw(st.integers(0, 6)) == 0:
        return draw(st.binary(max_size=80))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    values = np.array(draw(st.lists(st.integers(0, 300), min_size=h * w, max_size=h * w))).reshape(h, w)
    mode = draw(mask_modes)
    if mode in ("RGB", "RGBA", "LA"):
        return Image.fromarray(np.stack([values % 256] * len(mode), axis=-1).astype(np.uint8), mode)
    if mode == "I;16":
        return Image.fromarray(values.astype(np.uint16))
    return Image.fromarray((values % 256).astype(np.uint8)).convert(mode)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), mask_image(), mask_image()), max_size=3),
       st.integers(-3, 300), st.integers(-2, 300), st.sampled_from(["gt", "pred", None]))  # fmt: skip
def test_score_segmentation(pairs, num_classes: int, ignore_index: int, extra: str | None) -> None:
    from visionbench.harness.scoring_segmentation import score_segmentation

    with scratch() as d:
        for role in ("gt", "pred"):
            (d / role).mkdir()
        for stem, gt, pred in pairs:
            for role, image in (("gt", gt), ("pred", pred)):
                path = d / role / f"{stem}.png"
                path.write_bytes(image) if isinstance(image, bytes) else image.save(path)
        if extra is not None:
            (d / extra / "extra.png").write_bytes(b"")
        with contextlib.suppress(VisionbenchError):
            score_segmentation(d / "gt", d / "pred", num_classes=num_classes, ignore_index=ignore_index)
        code, err = _cli("score", "segmentation", "--gt", str(d / "gt"), "--pred", str(d / "pred"),
                         "--num-classes", str(num_classes), "--ignore-index", str(ignore_index))  # fmt: skip
        assert code in (0, 2) and "Traceback" not in err, err


@given(st.one_of(st.binary(max_size=200), st.lists(st.tuples(text, text), max_size=4).map(
    lambda rows: _csv(["path", "label"], [list(r) for r in rows]).encode())))  # fmt: skip
def test_csv_manifest(content: bytes) -> None:
    from visionbench.tasks.data.files import csv_manifest

    with scratch() as d:
        (d / "m.csv").write_bytes(content)
        with contextlib.suppress(VisionbenchError):
            csv_manifest(d / "m.csv")

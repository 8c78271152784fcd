"""Each deliberately broken model gets the finding that names its fault; a working one gets none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import vbtest_broken_models as broken

import visionbench


def evaluate(model: Any, task: str, tmp_path: Path, *, limit: int = 40, **kwargs: Any) -> dict[str, Any]:
    record = visionbench.evaluate(
        model, task, output=tmp_path, track=False, bootstrap=100, limit=limit, device="cpu", **kwargs
    )
    return record


def found(record: dict[str, Any], check: str, severity: str | None = None) -> list[dict[str, Any]]:
    return [
        f
        for f in record["checks"]["findings"]
        if f["check"] == check and (severity is None or f["severity"] == severity)
    ]


def test_working_wrapper_has_only_the_metadata_finding(tmp_path: Path) -> None:
    record = evaluate(broken.Wrapped(), "digits", tmp_path, classes=broken.DIGITS_CLASSES)
    checks = {f["check"] for f in record["checks"]["findings"] if f["severity"] != "info"}
    assert checks == {"model_metadata"}, record["checks"]["findings"]
    assert record["metrics"]["top1"] > 0.9
    assert record["checks"]["results"]["batch_invariance"]["flipped"] == 0.0


def test_model_that_ignores_its_input(tmp_path: Path) -> None:
    record = evaluate(broken.IgnoresInput(), "digits", tmp_path, classes=broken.DIGITS_CLASSES)
    [finding] = found(record, "image_dependence", "error")
    assert "do not depend on the image" in finding["message"]
    assert record["checks"]["worst"] == "error"
    # one constant answer is chance: the result check sees it too
    assert found(record, "chance_level", "warning")


def test_double_softmax(tmp_path: Path) -> None:
    record = evaluate(broken.DoubleSoftmax(), "digits", tmp_path, classes=broken.DIGITS_CLASSES)
    [finding] = found(record, "output_schema", "warning")
    assert "already probabilities" in finding["message"] and "softmax applied twice" in finding["message"]
    assert finding["details"]["rows_sum_to_one"] is True


def test_permuted_labels(tmp_path: Path) -> None:
    model = broken.PermutedLabels(seed=3)
    record = evaluate(model, "digits", tmp_path, limit=200, classes=broken.DIGITS_CLASSES)
    [finding] = found(record, "label_permutation", "error")
    assert finding["details"]["permuted_accuracy"] > 0.9 > record["metrics"]["top1"]
    # the pairs name where each true class went: the inverse of the model's column order
    order = model.order.tolist()
    assert {tuple(p) for p in finding["details"]["pairs"]} == {(str(order[j]), str(j)) for j in range(10)}


def test_batch_dependent_output(tmp_path: Path) -> None:
    record = evaluate(broken.BatchDependent(), "digits", tmp_path, classes=broken.DIGITS_CLASSES)
    [finding] = found(record, "batch_invariance", "error")
    assert finding["details"]["flipped"] > 0
    assert record["checks"]["results"]["batch_invariance"]["max_drift"] > 1.0


def test_boxes_outside_the_image(tmp_path: Path) -> None:
    record = evaluate(broken.BoxesOutside(), "detection:shapes", tmp_path, limit=8)
    [finding] = found(record, "output_schema", "error")
    assert "outside their image" in finding["message"]
    assert finding["details"]["outside"] == finding["details"]["total"] > 0


def test_changed_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library that resizes differently (nearest instead of bilinear) under an unchanged declaration."""
    from visionbench.adapters import adapter_for_object, pixels
    from visionbench.checks import CheckReport
    from visionbench.checks.parity import check_parity, write_golden

    adapter = adapter_for_object(broken.ResizedClassifier(), "classification", classes=broken.DIGITS_CLASSES)
    write_golden(adapter, "classification", tmp_path)
    same = CheckReport()
    check_parity(adapter, "classification", same, tmp_path)
    assert same.findings == [] and same.results["preprocessing_parity"]["identical"] == 3

    original = pixels.pil_pixels

    def upgraded(image: Any, mode: str, resize: Any, crop: Any, interpolation: str, *rest: Any) -> Any:
        return original(image, mode, resize, crop, "nearest", *rest)

    monkeypatch.setattr(pixels, "pil_pixels", upgraded)
    report = CheckReport()
    check_parity(adapter, "classification", report, tmp_path)
    [finding] = report.findings
    assert (finding.check, finding.severity) == ("preprocessing_parity", "warning")
    assert finding.details["max_difference"] > 0.01
    assert "declared preprocessing is the same" in finding.message


def test_missing_golden_is_an_info_finding(tmp_path: Path) -> None:
    from visionbench.adapters import adapter_for_object
    from visionbench.checks import CheckReport
    from visionbench.checks.parity import check_parity

    adapter = adapter_for_object(broken.Wrapped(), "classification", classes=broken.DIGITS_CLASSES)
    report = CheckReport()
    check_parity(adapter, "classification", report, tmp_path)
    assert [(f.check, f.severity) for f in report.findings] == [("preprocessing_parity", "info")]
    assert "--write-golden" in report.findings[0].message

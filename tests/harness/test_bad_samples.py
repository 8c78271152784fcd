"""``--on-bad-sample fail|skip``: an undecodable image stops the run, or is skipped and listed in the record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    (root / "a" / "zz-broken.png").write_bytes(b"this is not a png")
    return root


ARGS = ["--model", "torchvision:resnet18", "--weights", "none", "--model-arg", "num_classes=2"]


def test_fail_is_the_default_and_names_the_file(workdir: Path, cli) -> None:
    images = _folder(workdir / "imgs")
    code, out, err = cli("run", *ARGS, "--task", f"classification:imagefolder:{images}", "--no-track")
    assert code == 2 and "zz-broken.png" in err and "--on-bad-sample skip" in err
    assert not list((workdir / "results").rglob("record.json")), "a failed run publishes nothing"


def test_skip_lists_and_counts_the_sample_and_scores_the_rest(workdir: Path, cli) -> None:
    images = _folder(workdir / "imgs")
    code, out, err = cli(
        "run", *ARGS, "--task", f"classification:imagefolder:{images}", "--no-track", "--json",
        "--on-bad-sample", "skip", "--bootstrap", "20",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    record = json.loads(Path(result["record"]).read_text())
    assert record["task"]["num_samples"] == 9 and record["task"]["num_skipped"] == 1
    (skipped,) = record["task"]["skipped"]
    assert "zz-broken.png" in skipped["error"]
    assert record["state"]["num_samples"] == 8
    predictions = __import__("pandas").read_parquet(Path(result["record"]).parent / "predictions.parquet")
    assert len(predictions) == 8 and not predictions["sample_id"].str.contains("broken").any()
    # top-1 over the 8 decodable images, by hand from the per-sample rows
    assert result["metrics"]["top1"] == predictions["correct"].sum() / 8
    code, out, err = cli("rescore", str(Path(result["record"]).parent), "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["top1"] == result["metrics"]["top1"]

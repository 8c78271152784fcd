"""The shapes captioners end to end: weights, a logged run, its per-sample captions, gallery and gate.

The run's captions are checked against the model called directly on independently preprocessed
pixels, its CIDEr-D against pycocoevalcap's ``Cider`` on the same captions, and its metrics
against what MLflow stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from visionbench.tasks.caption_tokenize import tokenize_joined
from visionbench.zoo.captioning_decoding import generation_of
from visionbench.zoo.catalog import WEIGHTS_DIR, get_entry, load_model

N = 30


def _manifest() -> dict:
    return json.loads((WEIGHTS_DIR / "manifest.json").read_text())["models"]


def test_weights_are_small_and_the_manifest_has_held_out_figures():
    from visionbench.zoo.catalog import weights_sha256

    models = _manifest()
    for name in ("shapes-captioner", "shapes-captioner-tiny"):
        path = WEIGHTS_DIR / get_entry(name).weights
        assert path.stat().st_size < 1_000_000, name
        assert models[name]["sha256"] == weights_sha256(name) and models[name]["test_samples"] == 300
        assert get_entry(name).metrics["cider"] == pytest.approx(models[name]["test_cider"], abs=5e-5)
    assert models["shapes-captioner"]["test_cider"] > 1.0
    assert models["shapes-captioner"]["decoding"] == "greedy" == generation_of("shapes-captioner")["decoding"]
    assert models["shapes-captioner-tiny"]["test_cider"] < models["shapes-captioner"]["test_cider"]


def test_committed_weights_reproduce_the_recorded_cider():
    from visionbench.zoo.train_captioning import held_out_figures

    name = "shapes-captioner"
    figures = held_out_figures(
        load_model(name), get_entry(name).preprocess, beams=generation_of(name)["beams"]
    )
    assert figures["test_cider"] == pytest.approx(_manifest()[name]["test_cider"], abs=1e-4)


def _direct_captions(name: str, images: list) -> list[str]:
    """The model on pixels preprocessed here with PIL and numpy (bilinear resize, scale, mean/std)."""
    import torch
    from PIL import Image

    pre = get_entry(name).preprocess
    size = tuple(pre["size"][::-1])
    pixels = np.stack(
        [np.asarray(im.convert("RGB").resize(size, Image.BILINEAR), np.float32) for im in images]
    )
    x = torch.from_numpy(pixels * np.float32(1 / 255)).permute(0, 3, 1, 2)
    x = (x - torch.tensor(pre["mean"]).view(1, 3, 1, 1)) / torch.tensor(pre["std"]).view(1, 3, 1, 1)
    return load_model(name).generate(x, beams=generation_of(name)["beams"])


def _run(cli, model: str, *extra: str) -> dict:
    code, out, err = cli("run", "--model", model, "--task", f"captioning:shapes?n={N}&meteor=off",
                         "--json", "--bootstrap", "200", *extra)  # fmt: skip
    assert code == 0, err
    return json.loads(out)


def test_zoo_captioner_runs_end_to_end_with_captions_and_mlflow(workdir: Path, cli):
    from pycocoevalcap.cider.cider import Cider

    from visionbench.harness.tracking import client_for
    from visionbench.tasks.data.shapes import ShapesDataset

    result = _run(cli, "zoo:shapes-captioner")
    record_path = Path(result["record"])
    record = json.loads(record_path.read_text())
    predictions = pd.read_parquet(record_path.parent / "predictions.parquet")
    scenes = list(ShapesDataset("test", n=N))
    assert predictions["sample_id"].tolist() == [f"test/{s.file_name}" for s in scenes]
    assert predictions["candidate"].tolist() == _direct_captions(
        "shapes-captioner", [s.image for s in scenes]
    )
    assert [list(r) for r in predictions["references"]] == [list(s.captions) for s in scenes]

    refs = {i: [tokenize_joined(c) for c in s.captions] for i, s in enumerate(scenes)}
    cands = {i: [tokenize_joined(c)] for i, c in enumerate(predictions["candidate"])}
    cider, per_image = Cider().compute_score(refs, cands)
    assert record["metrics"]["cider"] == pytest.approx(cider, abs=1e-9)
    assert predictions["cider"].to_numpy() == pytest.approx(per_image, abs=1e-9)
    assert record["metrics"]["cider_ci_low"] <= cider <= record["metrics"]["cider_ci_high"]
    assert "meteor" not in record["metrics"] and record["task"]["scoring"]["meteor"].startswith("off")
    assert record["model"]["preprocess"]["generation"] == generation_of("shapes-captioner")

    assert record["tracking"]["status"] == "logged"
    logged = client_for(record["tracking"]["uri"]).get_run(record["tracking"]["run_id"]).data.metrics
    for key in ("cider", "bleu_4", "rouge_l", "cider_ci_low"):
        assert logged[key] == pytest.approx(record["metrics"][key], abs=1e-12)

    gallery = pd.read_parquet(record_path.parent / "gallery.parquet")
    assert set(gallery["group"]) == {"worst", "best"} and (gallery["score_name"] == "cider").all()
    worst = gallery[(gallery["group"] == "worst") & (gallery["rank"] == 1)].iloc[0]
    position = int(np.argmin(predictions["cider"].to_numpy()))
    assert worst["caption"].split("\n")[0] == predictions["candidate"][position]
    assert worst["image"][:4] == b"\x89PNG"


def test_cider_gate_passes_the_better_captioner_and_fails_the_weaker(workdir: Path, cli):
    strong = str(Path(_run(cli, "zoo:shapes-captioner", "--no-track")["record"]).parent)
    weak = str(Path(_run(cli, "zoo:shapes-captioner-tiny", "--no-track")["record"]).parent)
    code, out, err = cli("gate", "--baseline", strong, "--candidate", weak, "--json", "--bootstrap", "500")
    report = json.loads(out)
    assert code == 1, err
    assert report["metrics"][0]["metric"] == "cider" and report["metrics"][0]["delta"] < 0
    code, out, err = cli("gate", "--baseline", weak, "--candidate", strong, "--bootstrap", "500")
    assert code == 0 and "gate: PASS" in out, out + err
    code, out, _ = cli("compare", weak, strong, "--json", "--bootstrap", "300")
    rows = {row["metric"]: row for row in json.loads(out)["metrics"]}
    assert rows["cider"]["verdict"] == "better" and {"bleu_4", "rouge_l", "bleu_1"} <= set(rows)

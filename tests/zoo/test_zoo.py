"""The classification zoo: catalogue, committed weights, manifest, and reproducible training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from visionbench.errors import ModelError, SpecError
from visionbench.tasks.data.digits import DIGITS_CLASSES, load_digits_split
from visionbench.tasks.data.idx import DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, load_fashion_mnist
from visionbench.zoo import catalog
from visionbench.zoo.catalog import ZOO, ZooEntry, get_entry, load_model, weights_path, weights_sha256
from visionbench.zoo.train import (
    CLASSIFICATION_RECIPES,
    TRAINERS,
    evaluate_top1,
    fit_classifier,
    main,
    save_weights,
    to_model_input,
)

CLASSIFIERS = sorted(name for name, entry in ZOO.items() if entry.kind == "classification")
MANIFEST = json.loads((catalog.WEIGHTS_DIR / catalog.MANIFEST_NAME).read_text(encoding="utf-8"))
MAX_WEIGHT_BYTES = 2 * 1024 * 1024


def test_catalogue_shape():
    assert isinstance(ZOO, dict)
    assert {"digits-linear", "digits-mlp", "digits-cnn", "fashion-cnn"} <= set(CLASSIFIERS)
    for name, entry in ZOO.items():
        assert isinstance(entry, ZooEntry) and entry.name == name
    for name in CLASSIFIERS:
        assert ZOO[name].licence == "MIT"
        assert ZOO[name].weights == f"{name}.pt"


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_entry_metadata(name):
    entry = get_entry(name)
    assert entry.dataset in ("digits", "fashion-mnist")
    expected_classes = DIGITS_CLASSES if entry.dataset == "digits" else FASHION_MNIST_CLASSES
    assert entry.classes == expected_classes
    pre = entry.preprocess
    assert pre["mode"] == "L" and pre["interpolation"] == "bilinear"
    assert pre["size"] == ([8, 8] if entry.dataset == "digits" else [28, 28])
    assert len(pre["mean"]) == len(pre["std"]) == 1 and pre["std"][0] > 0


def test_architectures_differ():
    counts = {name: sum(p.numel() for p in get_entry(name).build().parameters()) for name in CLASSIFIERS}
    digits = [counts["digits-linear"], counts["digits-mlp"], counts["digits-cnn"]]
    assert len(set(digits)) == 3
    assert counts["digits-linear"] == 650
    assert {type(get_entry(n).build()).__name__ for n in ("digits-linear", "digits-mlp", "digits-cnn")} == {
        "LinearClassifier",
        "MLPClassifier",
        "DigitsCNN",
    }


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_load_and_forward(name):
    entry = get_entry(name)
    model = load_model(name)
    assert not model.training
    h, w = entry.preprocess["size"]
    with torch.no_grad():
        logits = model(torch.randn(3, 1, h, w))
    assert logits.shape == (3, len(entry.classes))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_weights_match_manifest(name):
    path = weights_path(name)
    assert path.is_file()
    assert path.stat().st_size < MAX_WEIGHT_BYTES
    record = MANIFEST["models"][name]
    assert record["sha256"] == weights_sha256(name)
    assert record["bytes"] == path.stat().st_size
    assert record["file"] == path.name
    for key in ("test_top1", "epochs", "seed", "train_seconds", "torch"):
        assert key in record
    assert get_entry(name).metrics["top1"] == pytest.approx(record["test_top1"], abs=5e-5)


def test_state_dicts_are_fp32():
    for name in CLASSIFIERS:
        state = torch.load(weights_path(name), map_location="cpu", weights_only=True)
        assert all(t.dtype in (torch.float32, torch.int64) for t in state.values())


def test_digits_models_rank():
    top1 = {
        name: MANIFEST["models"][name]["test_top1"] for name in ("digits-linear", "digits-mlp", "digits-cnn")
    }
    assert 0.9 < top1["digits-linear"] < top1["digits-mlp"] < top1["digits-cnn"]


def _held_out_top1(name: str) -> float:
    entry = get_entry(name)
    if entry.dataset == "digits":
        images, labels = load_digits_split("test")
    else:
        images, labels = load_fashion_mnist(None, "test")
    return evaluate_top1(load_model(name), to_model_input(images, entry.preprocess), torch.from_numpy(labels))


@pytest.mark.parametrize("name", [n for n in CLASSIFIERS if get_entry(n).dataset == "digits"])
def test_committed_digits_weights_reproduce_recorded_top1(name):
    assert _held_out_top1(name) == pytest.approx(MANIFEST["models"][name]["test_top1"], abs=1e-6)


@pytest.mark.skipif(
    not Path(DEFAULT_FASHION_MNIST_DIR).is_dir(),
    reason=f"Fashion-MNIST not installed at {DEFAULT_FASHION_MNIST_DIR}",
)
def test_committed_fashion_weights_reproduce_recorded_top1():
    top1 = _held_out_top1("fashion-cnn")
    assert top1 > 0.85
    assert top1 == pytest.approx(MANIFEST["models"]["fashion-cnn"]["test_top1"], abs=1e-6)


def test_unknown_name():
    with pytest.raises(SpecError) as info:
        get_entry("digits-transformer")
    message = str(info.value)
    assert "digits-transformer" in message
    assert all(name in message for name in CLASSIFIERS)
    with pytest.raises(SpecError):
        load_model("nope")
    with pytest.raises(SpecError):
        weights_path("nope")


def test_missing_and_corrupt_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match="missing"):
        load_model("digits-linear")
    (tmp_path / "digits-linear.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot load"):
        load_model("digits-linear")
    torch.save(get_entry("digits-mlp").build().state_dict(), tmp_path / "digits-linear.pt")
    with pytest.raises(ModelError, match="digits-linear"):
        load_model("digits-linear")


def test_catalogue_import_is_light():
    code = "import sys, visionbench.zoo.catalog; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_classifier_has_a_trainer():
    assert set(CLASSIFIERS) <= set(TRAINERS)
    assert set(CLASSIFICATION_RECIPES) == set(CLASSIFIERS)


@pytest.mark.slow
def test_training_is_reproducible(tmp_path):
    model_a, figures_a = fit_classifier("digits-linear", epochs=3, seed=7)
    model_b, figures_b = fit_classifier("digits-linear", epochs=3, seed=7)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert figures_a["test_top1"] == figures_b["test_top1"]
    # torch.save names the archive's root folder after the file, so compare files of the same name.
    sha_a = save_weights(model_a, tmp_path / "a" / "digits-linear.pt")
    assert sha_a == save_weights(model_b, tmp_path / "b" / "digits-linear.pt")

    model_c, _ = fit_classifier("digits-linear", epochs=3, seed=8)
    assert not torch.equal(state_a["fc.weight"], model_c.state_dict()["fc.weight"])


@pytest.mark.slow
def test_train_cli_writes_weights_and_manifest(tmp_path, capsys):
    assert main(["--only", "digits-linear", "--out", str(tmp_path), "--epochs", "2", "--quiet"]) == 0
    assert "digits-linear" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    record = manifest["models"]["digits-linear"]
    assert record["epochs"] == 2 and record["seed"] == 0
    assert (tmp_path / "digits-linear.pt").stat().st_size == record["bytes"]
    assert main(["--only", "no-such-model", "--out", str(tmp_path)]) == 2

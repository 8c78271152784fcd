"""The language zoo models train reproducibly through the zoo training command (tiny budgets)."""

from __future__ import annotations

import json
import os

import torch

from visionbench.zoo.train import fit_classifier, main, save_weights

SEED = int(os.environ.get("VB_TEST_SEED", "11"))


def test_same_seed_same_weights_hash(tmp_path) -> None:
    print(f"VB_TEST_SEED={SEED}")
    for name in ("digits-lang-attend", "digits-lang-project"):
        model_a, figures_a = fit_classifier(name, epochs=1, seed=SEED)
        model_b, figures_b = fit_classifier(name, epochs=1, seed=SEED)
        # torch.save names the archive's root folder after the file: compare files of the same name
        sha_a = save_weights(model_a, tmp_path / "a" / f"{name}.pt")
        assert sha_a == save_weights(model_b, tmp_path / "b" / f"{name}.pt"), name
        assert figures_a["test_top1"] == figures_b["test_top1"]
        assert figures_a["threads"] == 1
        model_c, _ = fit_classifier(name, epochs=1, seed=SEED + 1)
        assert sha_a != save_weights(model_c, tmp_path / "c" / f"{name}.pt"), name
        assert not torch.equal(model_a.query.weight, model_c.query.weight)


def test_train_command_records_the_text_encoder(tmp_path, capsys) -> None:
    argv = ["--only", "digits-lang-plain", "digits-lang-project", "--out", str(tmp_path), "--epochs", "1"]
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "digits-lang-plain" in out and "digits-lang-project" in out
    models = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["models"]
    assert models["digits-lang-plain"]["recipe"] == models["digits-lang-project"]["recipe"]
    assert "text_encoder" not in models["digits-lang-plain"]
    encoder = models["digits-lang-project"]["text_encoder"]
    assert encoder["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(encoder["encoder_sha256"]) == 64 and encoder["cache"] == "text-embeddings-digits.pt"
    state = torch.load(tmp_path / "digits-lang-project.pt", weights_only=True)
    assert state["text"].shape == (10, 384)

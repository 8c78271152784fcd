"""Hugging Face models never run their repository's own code unless ``--trust-remote-code`` is given.

A config.json with ``auto_map`` names Python classes in files beside it; transformers would import
and run them with ``trust_remote_code=True``. visionbench passes ``trust_remote_code=False``
explicitly (no interactive prompt either) and refuses such a folder with one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

CODE = """
import pathlib
pathlib.Path({marker!r}).write_text("remote code ran")
from transformers import PretrainedConfig


class EvilConfig(PretrainedConfig):
    model_type = "evil-vit"
"""


def _remote_code_folder(root: Path) -> Path:
    folder = root / "evil-model"
    folder.mkdir()
    config = {
        "model_type": "evil-vit",
        "architectures": ["EvilModel"],
        "auto_map": {
            "AutoConfig": "configuration_evil.EvilConfig",
            "AutoModelForImageClassification": "modeling_evil.EvilModel",
        },
    }
    (folder / "config.json").write_text(json.dumps(config))
    code = CODE.format(marker=str(folder / "RAN"))  # transformers runs a copy: an absolute marker path
    (folder / "configuration_evil.py").write_text(code)
    (folder / "modeling_evil.py").write_text(code)
    return folder


def test_remote_code_is_refused_without_the_flag(workdir, cli):
    folder = _remote_code_folder(workdir)
    code, _, err = cli("run", "--model", f"hf:{folder}", "--task", "digits", "--no-track")
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "auto_map" in lines[0] and "--trust-remote-code" in lines[0] and str(folder) in lines[0]
    assert not (folder / "RAN").exists(), "the model's own code ran"


def test_transformers_itself_is_asked_with_trust_remote_code_false(workdir, monkeypatch):
    """Past visionbench's own check (e.g. a hub id), transformers gets False and its refusal reads the same."""
    from visionbench.adapters import family_hf
    from visionbench.contracts import ModelSpec
    from visionbench.errors import ModelError

    folder = _remote_code_folder(workdir)
    monkeypatch.setattr(family_hf, "_refuse_remote_code", lambda target: None)
    with pytest.raises(ModelError, match="--trust-remote-code"):
        family_hf.load(ModelSpec.create(f"hf:{folder}"), "classification")
    assert not (folder / "RAN").exists(), "the model's own code ran"


def test_the_flag_passes_trust_to_transformers(workdir, cli):
    """With the flag the user chose to run the code: it runs (this stub then fails, as one line)."""
    folder = _remote_code_folder(workdir)
    code, _, err = cli(
        "run", "--model", f"hf:{folder}", "--trust-remote-code", "--task", "digits", "--no-track"
    )
    assert (folder / "RAN").exists(), "trust_remote_code=True did not reach transformers"
    assert code == 2 and "the model's own code (trust_remote_code) failed" in err, err


def test_the_flag_becomes_a_recorded_model_option(workdir, cli, monkeypatch):
    """``--trust-remote-code`` sets the hf model's option (so the record's model options and fingerprint carry it)."""
    from visionbench.errors import ConfigError
    from visionbench.harness import runner

    seen = []

    def fake_execute(spec, **_kwargs):
        seen.append(spec.model)
        raise ConfigError("stop here")

    monkeypatch.setattr(runner, "execute", fake_execute)
    cli("run", "--model", "hf:some/model", "--trust-remote-code", "--task", "digits", "--no-track")
    cli("run", "--model", "hf:some/model", "--task", "digits", "--no-track")
    assert seen[0].option_dict == {"trust_remote_code": True}
    assert seen[1].option_dict == {} and seen[0].fingerprint != seen[1].fingerprint


def test_the_flag_is_for_hf_models_only(workdir, cli):
    code, _, err = cli(
        "run", "--model", "zoo:digits-linear", "--trust-remote-code", "--task", "digits", "--no-track"
    )
    assert code == 2 and "hf: models only" in err


def test_a_plain_local_model_records_trust_off(tmp_path):
    from transformers import AutoModelForImageClassification, ViTConfig, ViTImageProcessor

    from visionbench.contracts import ModelSpec
    from visionbench.registry import build_adapter

    config = ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, num_labels=3)  # fmt: skip
    AutoModelForImageClassification.from_config(config).save_pretrained(tmp_path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    adapter = build_adapter(ModelSpec.create(f"hf:{tmp_path}"), "classification")
    assert adapter.describe()["source"]["trust_remote_code"] is False
    trusted = build_adapter(
        ModelSpec.create(f"hf:{tmp_path}", options={"trust_remote_code": True}), "classification"
    )
    assert trusted.describe()["source"]["trust_remote_code"] is True

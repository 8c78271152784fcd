"""``visionbench run`` on the captioning task with an HF image-to-text model and an HF chat model (tiny, random).

Each run's per-sample captions (predictions file) must equal the adapter's own captions for
the same images, and its metrics must be the ones MLflow holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from vbtest_hf_text import save_blip, save_llava

from visionbench.contracts import ImageMeta, ModelSpec, TaskInfo
from visionbench.registry import build_adapter, dataset_factory

N = 3
TASK = "captioning:shapes?n=3&meteor=off"


def _direct_captions(spec: ModelSpec) -> list[str]:
    dataset = dataset_factory("captioning", "shapes")(None, n=N, meteor="off")
    adapter = build_adapter(spec, "captioning")
    adapter.prepare(TaskInfo("captioning", dataset.name, ()))
    samples = [dataset.load(i) for i in range(N)]
    transform = adapter.transform()
    metas = [ImageMeta(i, s.sample_id, s.image.width, s.image.height) for i, s in enumerate(samples)]
    with torch.inference_mode():
        return adapter.predict(adapter.collate([transform(s.image) for s in samples]), metas)


@pytest.mark.parametrize("build", [save_blip, save_llava], ids=["blip", "llava-chat"])
def test_captioning_run_writes_captions_and_logs_metrics(build, workdir, cli):
    import mlflow
    import pyarrow.parquet as pq

    folder = build(workdir / "model")
    options = ["--model-arg", "max_new_tokens=4"]
    code, out, err = cli("run", "--model", f"hf:{folder}", "--task", TASK, "--batch-size", "3",
                         "--bootstrap", "10", "--json", *options)  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    record_path = Path(payload["record"])
    record = json.loads(record_path.read_text())
    table = pq.read_table(record_path.parent / record["artifacts"]["predictions"]).to_pydict()
    expected = _direct_captions(ModelSpec.create(f"hf:{folder}", options={"max_new_tokens": 4}))
    assert table["candidate"] == expected and len(expected) == N
    assert all(isinstance(c, str) and 0 < len(c.split()) <= 4 for c in expected), expected
    assert record["model"]["preprocess"]["generation"] == {
        "do_sample": False,
        "max_new_tokens": 4,
        "num_beams": 1,
    }
    assert payload["tracking"]["status"] == "logged", payload["tracking"]
    logged = mlflow.MlflowClient(tracking_uri=payload["tracking"]["uri"]).get_run(
        payload["tracking"]["run_id"]
    )
    for key in ("cider", "bleu_4", "rouge_l"):
        assert logged.data.metrics[key] == pytest.approx(record["metrics"][key], abs=1e-12)

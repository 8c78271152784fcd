"""The captioning task's state, resampling and prediction checks, against pycocoevalcap's scorers.

Resampled metrics are checked against an independent route: pycocoevalcap's ``BleuScorer`` on the
resampled images themselves (duplicates included), its ``Rouge`` per image, and its ``Cider`` per
image on the full set (the idf frozen) averaged over the resample. Captions are tokenised with the
Java-free tokenizer, which ``test_caption_reference`` checks against Java's.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from vbtest_captions import caption_sets, seed

from visionbench.contracts import TaskSpec
from visionbench.errors import ModelError
from visionbench.harness.rescore import StoredDataset
from visionbench.harness.runner import build_task
from visionbench.tasks.caption_tokenize import tokenize_joined


def _task(gts: dict, res: dict):
    info = {"name": "messy", "kind": "captioning", "classes": [], "fingerprint": "x", "num_samples": len(gts)}
    task = build_task(TaskSpec("captioning", "score", None, (("meteor", "off"),)), StoredDataset(info))
    ids = sorted(gts)
    targets = [{"image_id": i, "references": gts[i]} for i in ids]
    task.update(list(range(len(ids))), [res[i] for i in ids], targets, [f"img-{i}" for i in ids])
    return task, ids


def test_resampled_metrics_equal_pycocoevalcap_on_the_resample():
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    s = seed()
    print(f"VB_TEST_SEED={s}")
    rng = np.random.default_rng(s)
    gts, res = caption_sets(rng, 60)
    task, ids = _task(gts, res)
    metrics = task.compute().metrics
    refs = {i: [tokenize_joined(c) for c in gts[i]] for i in ids}
    cands = {i: [tokenize_joined(res[i])] for i in ids}
    _, cider_images = Cider().compute_score(refs, cands)
    _, rouge_images = Rouge().compute_score(refs, cands)
    assert metrics["cider"] == pytest.approx(float(np.mean(cider_images)), abs=1e-12)

    rows = rng.integers(0, len(ids), size=(7, len(ids)))
    block = task.bootstrap_block(rows, keys=("cider", "bleu_1", "bleu_4", "rouge_l", "rouge_2"))
    for b, row in enumerate(rows):
        scorer = BleuScorer(n=4)
        for position in row:
            scorer += (cands[ids[position]][0], refs[ids[position]])
        with contextlib.redirect_stdout(io.StringIO()):
            bleu, _ = scorer.compute_score(option="closest")
        assert block["bleu_1"][b] == pytest.approx(bleu[0], abs=1e-12)
        assert block["bleu_4"][b] == pytest.approx(bleu[3], abs=1e-12)
        assert block["cider"][b] == pytest.approx(float(np.mean(cider_images[row])), abs=1e-12)
        assert block["rouge_l"][b] == pytest.approx(float(np.mean(rouge_images[row])), abs=1e-12)
        one = task.bootstrap_metrics(row)
        assert one["cider"] == block["cider"][b] and set(one) == set(task.headline)
    assert task.headline == ("cider", "bleu_4", "rouge_l")


def test_state_round_trips_and_subset_has_its_own_idf():
    gts, res = caption_sets(np.random.default_rng(3), 30)
    task, ids = _task(gts, res)
    full = task.compute().metrics["cider"]
    again, _ = _task(gts, res)
    again.state.restrict(list(range(10)))
    subset = {i: gts[i] for i in ids[:10]}
    alone, _ = _task(subset, {i: res[i] for i in subset})
    assert again.compute().metrics["cider"] == pytest.approx(alone.compute().metrics["cider"], abs=1e-12)
    assert alone.compute().metrics["cider"] != pytest.approx(full)


def test_per_sample_rows_carry_the_candidate_and_references():
    gts, res = caption_sets(np.random.default_rng(4), 12)
    task, ids = _task(gts, res)
    rows = task.compute().per_sample
    assert rows["candidate"] == [res[i] for i in ids]
    assert rows["references"] == [gts[i] for i in ids]
    assert len(rows["cider"]) == len(ids) and all(v >= 0 for v in rows["cider"])


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        ("a dog", "must be a list of str"),
        (["a dog"], "1 captions for a batch of 2"),
        (["a dog", 7], "sample 'b': the caption is a int"),
        (["a dog", None], "sample 'b': the caption is a NoneType"),
    ],
)
def test_bad_predictions_name_the_sample(predictions, message):
    task, _ = _task({0: ["x"]}, {0: "x"})
    targets = [{"image_id": 1, "references": ["a cat"]}, {"image_id": 2, "references": ["a dog"]}]
    with pytest.raises(ModelError, match=message):
        task.update([5, 6], predictions, targets, ["a", "b"])


def test_empty_and_punctuation_only_candidates_score_like_coco_caption():
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {0: ["a red square."], 1: ["two blue circles", "a pair of circles"], 2: ["a star"]}
    res = {0: "", 1: "...", 2: "a star"}
    task, ids = _task(gts, res)
    metrics = task.compute().metrics
    refs = {i: [tokenize_joined(c) for c in gts[i]] for i in ids}
    cands = {i: [tokenize_joined(res[i])] for i in ids}
    assert metrics["cider"] == pytest.approx(Cider().compute_score(refs, cands)[0], abs=1e-12)
    assert metrics["rouge_l"] == pytest.approx(Rouge().compute_score(refs, cands)[0], abs=1e-12)
    assert 0 <= metrics["bleu_1"] < 1

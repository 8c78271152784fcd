"""Task state: merging shards in any order, de-duplication by sample index, compact and hard-label classification."""

from __future__ import annotations

import numpy as np
import pytest


def _digits_task(**options):
    from visionbench.harness.runner import build_task
    from visionbench.harness.specs import parse_task_spec

    return build_task(parse_task_spec("digits", options))


def test_shards_merged_in_any_order_equal_one_pass(seed: int) -> None:
    import torch

    rng = np.random.default_rng(seed)
    whole = _digits_task()
    n, c = 101, len(whole.dataset.classes)
    scores = torch.from_numpy(rng.normal(size=(n, c)).astype(np.float32))
    targets = rng.integers(0, c, size=n).tolist()
    ids = [f"s{i}" for i in range(n)]
    whole.update(list(range(n)), scores, targets, ids)
    expected = whole.compute().metrics
    # three "ranks", each a strided shard, fed in a shuffled order and in uneven batches
    shards = [list(range(r, n, 3)) for r in range(3)]
    tables = []
    for shard in shards:
        part = _digits_task()
        for start in range(0, len(shard), 7):
            rows = shard[start : start + 7]
            part.update(rows, scores[rows], [targets[i] for i in rows], [ids[i] for i in rows])
        tables.append(part.state.table())
    merged = _digits_task()
    merged.state.extend([tables[i] for i in rng.permutation(3)])
    assert merged.state.indices().tolist() == list(range(n))
    assert merged.state.sample_ids() == ids
    got = merged.compute().metrics
    assert got == expected


def test_a_repeated_sample_counts_once_newest_wins() -> None:
    import torch

    task = _digits_task()
    c = len(task.dataset.classes)
    wrong = torch.zeros(1, c)
    wrong[0, 1] = 5.0
    right = torch.zeros(1, c)
    right[0, 0] = 5.0
    task.update([0], wrong, [0], ["a"])
    task.update([1], right, [1 % c], ["b"])
    task.update([0], right, [0], ["a"])  # a resumed run redoes sample 0
    assert task.num_updated() == 2
    assert task.compute().metrics["top1"] == 0.5


def test_hard_labels_give_no_invented_score_metrics() -> None:
    import torch

    task = _digits_task()
    labels = torch.tensor([0, 1, 2, 3, 3])
    task.update(list(range(5)), labels, [0, 1, 2, 3, 4], [str(i) for i in range(5)])
    metrics = task.compute().metrics
    assert metrics["top1"] == pytest.approx(4 / 5)
    assert "top5" not in metrics and "auroc_macro" not in metrics and "ece" not in metrics


def test_hard_label_outside_the_classes_names_the_sample() -> None:
    import torch

    from visionbench.errors import ModelError

    task = _digits_task()
    with pytest.raises(ModelError, match="'b'"):
        task.update([0, 1], torch.tensor([0, 12]), [0, 1], ["a", "b"])


def test_compact_state_for_huge_label_spaces(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the class limit a row keeps the top-k only; top-1/top-5 still equal the full computation."""
    import torch

    from visionbench.tasks import classification
    from visionbench.tasks.classification_metrics import to_probabilities, top_k_accuracy

    rng = np.random.default_rng(seed)
    monkeypatch.setattr(classification, "FULL_SCORE_MAX_CLASSES", 5)  # digits' 10 classes count as huge
    task = _digits_task()
    assert task.compact and "scores" not in task.state.schema.names
    n, c = 200, 10
    scores = rng.normal(size=(n, c)).astype(np.float32)
    targets = rng.integers(0, c, size=n)
    task.update(list(range(n)), torch.from_numpy(scores), targets.tolist(), [str(i) for i in range(n)])
    metrics = task.compute().metrics
    probs = to_probabilities(scores.astype(np.float64))
    assert metrics["top1"] == pytest.approx(float(np.mean(probs.argmax(1) == targets)), abs=1e-15)
    assert metrics["top5"] == pytest.approx(top_k_accuracy(targets, probs, 5), abs=1e-15)
    assert "auroc_macro" not in metrics and "ece" not in metrics

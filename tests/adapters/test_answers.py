"""Reading a class out of a generated answer, and how the classification task scores "no answer"."""

from __future__ import annotations

import numpy as np
import pytest

from visionbench.adapters.answers import NO_ANSWER, AnswerParser, normalise
from visionbench.errors import ModelError

CLASSES = ["dog", "hot dog", "cat", "sea lion", "0", "1", "T-shirt/top", "Café"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("dog", 0),
        ("Dog.", 0),
        ("  DOG  ", 0),
        ("a hot dog!", 1),  # the longer class wins over the one inside it
        ("Hot-Dog", 1),
        ("I think it is a cat.", 2),
        ("sea lion", 3),
        ("a lion by the sea", NO_ANSWER),  # words out of order are not the class
        ("the answer is 1", 5),
        ("10", NO_ANSWER),  # digits are whole words: 10 is neither 1 nor 0
        ("dog or cat", NO_ANSWER),  # two classes named
        ("cat, cat and cat", 2),  # one class named three times
        ("t shirt top", 6),
        ("a T-shirt / top", 6),
        ("café", 7),
        ("cafe", NO_ANSWER),  # accents are letters
        ("", NO_ANSWER),
        ("concatenate", NO_ANSWER),  # "cat" inside a word is no mention
    ],
)
def test_answers_map_to_classes_by_the_documented_policy(answer, expected):
    assert AnswerParser(CLASSES)(answer) == expected


def test_normalise_and_clashing_names():
    assert normalise("  Hot-Dog!! ") == "hot dog" and normalise("T-shirt/top") == "t shirt top"
    with pytest.raises(ModelError, match="read the same"):
        AnswerParser(["T-shirt", "t shirt"])
    with pytest.raises(ModelError, match="no letters or digits"):
        AnswerParser(["?!"])


def test_no_answer_is_wrong_and_adds_no_class_hand_computed():
    """y_true = [0, 0, 1, 2], y_pred = [0, -1, 1, -1] over 4 classes (class 3 absent everywhere).

    Classes present: 0, 1, 2. Recall 1/2, 1, 0 -> 1/2; precision 1, 1, 0 (2 never predicted)
    -> 2/3; F1 2/3, 1, 0 -> 5/9; top-1 2/4.
    """
    from visionbench.tasks.classification_metrics import classification_metrics, fast_headline

    y_true, y_pred = np.array([0, 0, 1, 2]), np.array([0, NO_ANSWER, 1, NO_ANSWER])
    metrics, per_class, cm = classification_metrics(y_true, ["a", "b", "c", "d"], y_pred=y_pred)
    assert metrics["top1"] == 0.5
    assert metrics["recall_macro"] == pytest.approx(1 / 2)
    assert metrics["precision_macro"] == pytest.approx(2 / 3)
    assert metrics["f1_macro"] == pytest.approx(5 / 9)
    assert per_class["c"]["recall"] == 0.0 and per_class["c"]["support"] == 1
    assert np.isnan(per_class["d"]["f1"])
    assert cm.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]  # unanswered: no column
    fast = fast_headline(y_true, y_pred, 4)
    assert fast["top1"] == 0.5 and fast["f1_macro"] == pytest.approx(5 / 9)


def test_task_lists_unanswered_samples_from_its_state(tmp_path):
    import torch

    from visionbench.contracts import TaskSpec
    from visionbench.errors import ModelError as TaskModelError
    from visionbench.registry import dataset_factory, task_class

    dataset = dataset_factory("classification", "digits")(None)
    task = task_class("classification")(dataset, TaskSpec("classification", "digits"))
    targets = [int(dataset.load(i).target) for i in range(4)]
    labels = torch.tensor([targets[0], NO_ANSWER, (targets[2] + 1) % 10, NO_ANSWER])
    ids = [f"s{i}" for i in range(4)]
    task.update([0, 1, 2, 3], labels, targets, ids)
    result = task.compute()
    assert result.metrics["top1"] == 0.25
    assert result.extra["unanswered"] == [{"index": 1, "sample_id": "s1"}, {"index": 3, "sample_id": "s3"}]
    assert result.per_sample["prediction"][1] is None and result.per_sample["correct"] == [
        True,
        False,
        False,
        False,
    ]
    import pyarrow.parquet as pq  # the state reads back from Parquet (null fixed-size rows would not)

    pq.write_table(task.state.table(), tmp_path / "state.parquet")
    again = pq.read_table(tmp_path / "state.parquet")
    assert again.column("label").to_pylist() == labels.tolist() and task._hard_label_rows(again)
    with pytest.raises(TaskModelError, match="nor -1"):
        task.update([4], torch.tensor([-2]), [0], ["s4"])

"""The pure computations behind the pages: ranks, fronts, paired tests, metric groupings, escaping."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from visionbench.leaderboard import analysis
from visionbench.leaderboard.safe import md


def runs(
    *rows: tuple[str, float | None, float | None, float | None], kind: str = "classification"
) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"model": m, "kind": kind, "headline": v, "headline_ci_low": lo, "headline_ci_high": hi}
            for m, v, lo, hi in rows
        ]
    ).astype({"headline": float, "headline_ci_low": float, "headline_ci_high": float})


# ---------------------------------------------------------------------------------------------- ranks


def test_tie_groups_follow_the_group_leader() -> None:
    frame = runs(
        ("a", 0.90, 0.88, 0.92), ("b", 0.89, 0.87, 0.91), ("c", 0.87, 0.85, 0.885), ("d", 0.80, 0.78, 0.82)
    )
    ranks = analysis.tie_ranks(frame.iloc[::-1])  # order of the input does not matter
    assert dict(zip(frame["model"], ranks.reindex(frame.index), strict=True)) == {
        "a": 1,
        "b": 1,
        "c": 1,
        "d": 4,
    }


def test_overlap_is_with_the_leader_not_the_neighbour() -> None:
    # c overlaps b but not the leader a: it opens a new group at its position.
    frame = runs(("a", 0.90, 0.89, 0.91), ("b", 0.89, 0.885, 0.90), ("c", 0.87, 0.86, 0.886))
    assert list(analysis.tie_ranks(frame)) == [1, 1, 3]


def test_without_intervals_ranks_are_plain_and_missing_scores_come_last() -> None:
    frame = runs(("a", 0.5, None, None), ("b", 0.7, None, None), ("c", None, None, None), kind="detection")
    assert dict(zip(frame["model"], analysis.tie_ranks(frame), strict=True)) == {"b": 1, "a": 2, "c": 3}
    assert analysis.tie_ranks(frame.iloc[0:0]).empty


# ---------------------------------------------------------------------------------------------- Pareto


def test_pareto_front_higher_is_better_on_both_axes() -> None:
    xs = [1.0, 2.0, 3.0, 2.0, 0.5]
    ys = [0.9, 0.8, 0.5, 0.7, 0.95]
    assert analysis.pareto_frontier(xs, ys) == [True, True, True, False, True]


def test_pareto_front_with_latency_lower_is_better() -> None:
    latency = [10.0, 5.0, 20.0, 5.0]
    accuracy = [0.9, 0.8, 0.85, 0.7]
    assert analysis.pareto_frontier(latency, accuracy, x_higher_better=False) == [True, True, False, False]


def test_pareto_ties_and_missing_values() -> None:
    # Identical points do not dominate each other; equal x with lower y is dominated; NaN/None never on the front.
    xs = [1.0, 1.0, 1.0, math.nan, None, 2.0]
    ys = [0.5, 0.5, 0.4, 0.99, 0.99, 0.1]
    assert analysis.pareto_frontier(xs, ys) == [True, True, False, False, False, True]
    assert analysis.pareto_frontier([], []) == []


def test_pareto_front_matches_brute_force() -> None:
    import random

    rng = random.Random(3)
    for _ in range(50):
        pts = [(rng.choice([1, 2, 3, 4]), rng.choice([0.1, 0.2, 0.3])) for _ in range(rng.randint(1, 12))]
        expected = [
            not any(qx >= px and qy >= py and (qx > px or qy > py) for qx, qy in pts) for px, py in pts
        ]
        assert analysis.pareto_frontier([p[0] for p in pts], [p[1] for p in pts]) == expected


# ---------------------------------------------------------------------------------------------- compare


def test_mcnemar_exact_on_discordant_pairs() -> None:
    ids = [f"s{i}" for i in range(30)]
    a = pd.DataFrame({"sample_id": ids, "correct": [True] * 20 + [False] * 10})
    b = pd.DataFrame(
        {"sample_id": ids[::-1], "correct": ([True] * 12 + [False] * 18)[::-1]}
    )  # joined on ids, not rows
    result = analysis.mcnemar(a, b)
    # A right & B wrong: samples 12..19 (8); A wrong & B right: none.
    assert (result["a_only"], result["b_only"], result["n"]) == (8, 0, 30)
    assert result["p_value"] == pytest.approx(2 * 0.5**8)
    same = analysis.mcnemar(a, a)
    assert same["p_value"] == 1.0


def test_mcnemar_says_why_it_cannot_test() -> None:
    a = pd.DataFrame({"sample_id": ["x"], "correct": [True]})
    assert "no predictions" in analysis.mcnemar(a, None)["reason"]
    assert "correctness" in analysis.mcnemar(a, pd.DataFrame({"sample_id": ["x"]}))["reason"]
    assert (
        "share no sample"
        in analysis.mcnemar(a, pd.DataFrame({"sample_id": ["y"], "correct": [True]}))["reason"]
    )


def test_paired_deltas_use_shared_keys_headline_first() -> None:
    a = pd.Series(
        {"headline_key": "top1", "top1": 0.9, "f1/cat": 0.8, "throughput_ips": 100.0, "ece": math.nan}
    )
    b = pd.Series({"headline_key": "top1", "top1": 0.8, "f1/cat": 0.9, "throughput_ips": 150.0, "ece": 0.1})
    table = analysis.paired_deltas(a, b, ["ece", "f1/cat", "throughput_ips", "top1"])
    assert list(table["metric"]) == ["top1", "throughput_ips", "f1/cat"]
    assert table.set_index("metric").loc["top1", "B - A"] == pytest.approx(-0.1)


def test_pair_runs_prefers_a_shared_configuration() -> None:
    from pathlib import Path

    from visionbench.harness.record import row_from_record
    from visionbench.leaderboard.data import finish
    from visionbench.leaderboard.synthetic import synthetic_record

    recs = [
        synthetic_record("m:a", hardware="gpu", precision="fp16", seed=1),
        synthetic_record("m:a", hardware="cpu", seed=2),
        synthetic_record("m:b", hardware="cpu", seed=3),
        synthetic_record("m:b", "detection", seed=4),
    ]
    frame = finish(
        pd.DataFrame([row_from_record(r, Path(f"/x/{i}/record.json")) for i, r in enumerate(recs)])
    )
    [(task, run_a, run_b, same)] = analysis.pair_runs(frame, "m:a", "m:b")
    assert task == "classification:digits" and same and run_a["hardware"] == run_b["hardware"] == "cpu"


# ---------------------------------------------------------------------------------------------- metric groupings


def test_robustness_and_corruption_groupings() -> None:
    metrics = {"clean_top1": 0.9, "robust_top1/pgd/linf/0.03": 0.4, "robust_top1/pgd/linf/0.01": 0.7,
               "robust_top1/fgsm/linf/0.01": 0.8, "robust_top1/linf/0.01": 0.7, "robust_top1": 0.4,
               "corrupt_top1/fog/1": 0.85, "corrupt_top1/fog/2": 0.8, "attack_success_rate/linf/0.03": 0.5}  # fmt: skip
    curves = analysis.robustness_curves(metrics)
    assert list(zip(curves["attack"], curves["norm"], curves["eps"], strict=True)) == [
        ("fgsm", "linf", 0.01),
        ("pgd", "linf", 0.01),
        ("pgd", "linf", 0.03),
        ("worst case", "linf", 0.01),
    ]
    grid = analysis.corruption_grid(metrics)
    assert set(grid["severity"]) == {"1", "2"} and set(grid["corruption"]) == {"fog"}
    assert analysis.robustness_curves({"top1": 1.0}).empty and analysis.corruption_grid({}).empty


def test_pr_curves_accepts_dict_and_list_forms() -> None:
    by_name = analysis.pr_curves({"cat": {"recall": [0, 1], "precision": [1, 0.5]}})
    as_list = analysis.pr_curves({"curves": [{"class": "cat", "recall": [0, 1], "precision": [1, 0.5]}]})
    assert by_name.equals(as_list) and len(by_name) == 2
    assert analysis.pr_curves("nonsense").empty


def test_worst_samples_prefers_scores_then_confident_mistakes() -> None:
    preds = pd.DataFrame(
        {
            "sample_id": list("abcd"),
            "target_probability": [0.9, 0.1, 0.5, 0.05],
            "correct": [True, False, True, False],
        }
    )
    worst, how = analysis.worst_samples(preds, 2)
    assert list(worst["sample_id"]) == ["d", "b"] and "target_probability" in how
    preds = pd.DataFrame(
        {"sample_id": list("abc"), "confidence": [0.9, 0.99, 0.5], "correct": [False, False, True]}
    )
    worst, how = analysis.worst_samples(preds, 5)
    assert list(worst["sample_id"]) == ["b", "a"] and "wrong" in how


def test_per_class_table_from_record_or_metrics() -> None:
    record = {"per_class": {"cat": {"f1": 0.5, "support": 3}, "dog": {"f1": 0.7, "support": 4}}}
    assert list(analysis.per_class_table(record, {})["class"]) == ["cat", "dog"]
    table = analysis.per_class_table(None, {"iou/road": 0.8, "iou/sky": 0.9, "miou": 0.85})
    assert set(table["class"]) == {"road", "sky"} and "iou" in table.columns


# ---------------------------------------------------------------------------------------------- text and images


def test_markdown_escaping_leaves_no_markup() -> None:
    assert md("<script>alert(1)</script>") == "\\<script\\>alert\\(1\\)\\</script\\>"
    assert (
        md("**bold** _x_ [a](b) :red[x] $x$")
        == "\\*\\*bold\\*\\* \\_x\\_ \\[a\\]\\(b\\) \\:red\\[x\\] \\$x\\$"
    )
    assert md("two\nlines") == "two lines"


def test_paired_headline_reads_both_runs_state(tmp_path) -> None:
    import visionbench
    from visionbench.harness.store import read_index
    from visionbench.leaderboard.analysis import paired_headline

    paths = []
    for model in ("zoo:digits-linear", "zoo:digits-cnn"):
        out = tmp_path / model.split(":")[1]
        visionbench.evaluate(model, "digits", output=out, track=False, bootstrap=0, limit=200)
        paths.append(str(out / next(iter(read_index(out).values())) / "record.json"))
    paired = paired_headline(*paths, resamples=200)
    assert paired["metric"] == "top1" and paired["n"] == 200 and paired["test"] == "mcnemar-exact"
    assert paired["ci_low"] <= paired["ci_high"] and paired["verdict"] in (
        "better",
        "no detectable difference",
    )
    assert "static mode" in paired_headline(None, paths[1])["reason"]

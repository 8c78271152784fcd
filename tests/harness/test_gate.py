"""``visionbench gate`` through the real CLI on zoo models and on scored files: exit codes 0 / 1 / 2,
Markdown and JUnit reports, the false-fail rate of an equivalent candidate."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visionbench.zoo.catalog import DIGITS_PREPROCESS

MODELS = '''
import torch
from visionbench.zoo.catalog import load_model


def build(shift=0.0, noise=0.0, seed=0, name="digits-mlp"):
    """The zoo model with its weights perturbed: ``shift`` raises the logit of class 3 (loses top-1),
    ``noise`` adds seeded Gaussian noise (an equivalent but different model)."""
    model = load_model(name)
    with torch.no_grad():
        if noise:
            gen = torch.Generator().manual_seed(seed)
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * noise * p.abs().mean())
        if shift:
            last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
            last.bias[3] += shift
    return model
'''
PREPROCESS = "preprocess=" + json.dumps(DIGITS_PREPROCESS)
RULES = """
classification:
  alpha: 0.05
  multiplicity: holm
  inconclusive: fail
  metrics:
    top1: {margin: 0.015}
efficiency:
  throughput_ips: {tolerance: 0.99}
"""


@pytest.fixture
def gate_env(workdir: Path, monkeypatch: pytest.MonkeyPatch, cli):
    (workdir / "vbgate_models.py").write_text(MODELS)
    (workdir / "gate.yaml").write_text(RULES)
    monkeypatch.syspath_prepend(str(workdir))

    def run(model: str, *extra: str, task: str = "digits") -> str:
        args = [
            "run",
            "--no-track",
            "--quiet",
            "--json",
            "--bootstrap",
            "0",
            "--task",
            task,
            "--model",
            model,
        ]
        if model.startswith("callable:"):
            args += ["--model-arg", PREPROCESS]
        code, out, err = cli(*args, *extra)
        assert code == 0, err
        return str(Path(json.loads(out)["record"]).parent)

    return workdir, run


def _gate(cli, baseline: str, candidate: str, *extra: str) -> tuple[int, str, str]:
    return cli("gate", "--baseline", baseline, "--candidate", candidate, "--bootstrap", "1000", *extra)


def test_degraded_candidate_fails_with_markdown_and_junit(gate_env, cli) -> None:
    workdir, run = gate_env
    baseline = run("zoo:digits-mlp")
    degraded = run("callable:vbgate_models:build", "--model-arg", "shift=7.5")
    md, junit = workdir / "gate.md", workdir / "gate.xml"
    code, out, err = _gate(
        cli, baseline, degraded, "--rules", "gate.yaml", "--markdown", str(md), "--junit", str(junit)
    )
    assert code == 1, out + err
    assert out.strip().splitlines()[-1].startswith("gate: FAIL (exit 1)")
    text = md.read_text()
    assert text.startswith("## ❌ visionbench gate: FAIL")
    assert "| top1 | 0.9833 |" in text and "**fail**" in text
    # efficiency: both runs on this machine, tolerance 99%: compared, not skipped
    assert "| throughput_ips |" in text
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "1"
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"top1", "throughput_ips"} and suite.get("tests") == "2"
    assert cases["top1"].find("failure").get("type") == "fail"
    junitparser = pytest.importorskip("junitparser")
    parsed = junitparser.JUnitXml.fromfile(str(junit))
    results = {case.name: case.result for s in parsed for case in s}
    assert isinstance(results["top1"][0], junitparser.Failure)
    code, out, _ = _gate(cli, baseline, degraded, "--rules", "gate.yaml", "--json")
    report = json.loads(out)
    assert code == 1 and report["verdict"] == "fail" and report["exit_code"] == 1
    drop = -report["metrics"][0]["delta"]
    assert 0.02 < drop < 0.045 and report["metrics"][0]["ci_high"] < -0.015


def test_better_and_equivalent_candidates_pass(gate_env, cli) -> None:
    _, run = gate_env
    linear, cnn = run("zoo:digits-linear"), run("zoo:digits-cnn")
    code, out, err = _gate(cli, linear, cnn, "--rules", "gate.yaml")
    assert code == 0 and "gate: PASS (exit 0)" in out, out + err
    mlp = run("zoo:digits-mlp")
    twin = run("callable:vbgate_models:build", "--model-arg", "noise=0.3", "--model-arg", "seed=1")
    code, out, err = _gate(cli, mlp, twin, "--rules", "gate.yaml")
    assert code == 0 and "gate: PASS" in out, out + err


def test_too_small_subset_is_inconclusive(gate_env, cli) -> None:
    workdir, run = gate_env
    baseline = run("zoo:digits-mlp", "--limit", "40")
    twin = run(
        "callable:vbgate_models:build", "--model-arg", "noise=0.3", "--model-arg", "seed=1", "--limit", "40"
    )
    code, out, _ = _gate(cli, baseline, twin, "--rules", "gate.yaml", "--json")
    report = json.loads(out)
    assert code == 2 and report["verdict"] == "inconclusive"
    row = report["metrics"][0]
    assert row["ci_low"] < -0.015 < row["ci_high"] and row["note"] == "the interval straddles the margin"
    (workdir / "warn.yaml").write_text(RULES.replace("inconclusive: fail", "inconclusive: warn"))
    code, out, _ = _gate(cli, baseline, twin, "--rules", "warn.yaml")
    assert code == 0 and "warning: top1: inconclusive" in out
    # a bad rules file is bad input (exit 2 too, but an error line on stderr and no verdict line)
    (workdir / "bad.yaml").write_text("classification:\n  metrics:\n    top7: {margin: 0.01}\n")
    code, out, err = _gate(cli, baseline, twin, "--rules", "bad.yaml")
    assert code == 2 and out == "" and "error: --rules bad.yaml: classification: metrics: top7" in err


@pytest.mark.slow
def test_equivalent_candidate_false_fail_rate(gate_env) -> None:
    """20 equivalent-but-different candidates (seeded weight noise) against one baseline: >= 19 pass."""
    import importlib

    import visionbench
    from visionbench.harness.compare import load
    from visionbench.harness.gate import gate_runs, read_rules
    from visionbench.harness.store import read_index

    workdir, run = gate_env
    models = importlib.import_module("vbgate_models")
    baseline = load(run("zoo:digits-mlp"))
    rules = read_rules(workdir / "gate.yaml")
    verdicts, discordant = [], []
    for seed in range(20):
        out = workdir / f"trial{seed}"
        visionbench.evaluate(
            models.build(noise=0.3, seed=seed),
            "digits",
            preprocess=DIGITS_PREPROCESS,
            track=False,
            output=out,
            bootstrap=0,
            name=f"twin-{seed}",
        )
        candidate = load(out / next(iter(read_index(out).values())))
        report = gate_runs(baseline, candidate, rules, resamples=1000, seed=seed)
        verdicts.append(report["verdict"])
        adjusted = report["metrics"][0]["adjusted"]
        discordant.append(int(adjusted["baseline_only"] + adjusted["candidate_only"]))
    false_fails = sum(v != "pass" for v in verdicts)
    print(f"false-fail rate: {false_fails}/20; verdicts {verdicts}; discordant pairs {discordant}")
    assert sum(discordant) > 0  # the candidates do differ from the baseline
    assert false_fails <= 1, verdicts


@pytest.mark.slow
def test_detection_and_segmentation_runs_gate(gate_env, cli) -> None:
    _, run = gate_env
    for task, good, bad in (
        ("shapes-detection", "zoo:shapes-centernet", "zoo:shapes-centernet-tiny"),
        ("shapes-segmentation", "zoo:shapes-unet", "zoo:shapes-fcn"),
    ):
        base = run(good, "--limit", "40", task=task)
        again = run(good, "--limit", "40", "--batch-size", "7", task=task)
        worse = run(bad, "--limit", "40", task=task)
        code, out, err = _gate(cli, base, again)  # default rules: the headline, margin 0.01
        assert code == 0 and "gate: PASS" in out, out + err
        code, out, err = _gate(cli, base, worse, "--json")
        report = json.loads(out)
        assert code == 1 and report["metrics"][0]["metric"] in ("map", "miou"), err


# --- runs written by `visionbench score` ------------------------------------------------------------


def _score(cli, kind: str, gt: Path, pred: Path, *extra: str) -> str:
    code, out, err = cli("score", kind, "--gt", str(gt), "--pred", str(pred), "--json", *extra)
    assert code == 0, err
    result = json.loads(out)
    assert "metrics" in result and result["record"]
    return str(Path(result["record"]).parent)


def test_score_runs_gate_for_every_kind(workdir: Path, cli) -> None:
    rng = np.random.default_rng(0)
    # classification: scores CSVs
    n, k = 800, 4
    y = rng.integers(0, k, n)
    (workdir / "gt.csv").write_text("id,label\n" + "".join(f"i{i},c{y[i]}\n" for i in range(n)))
    for name, noise in (("good", 0.0), ("bad", 2.0)):
        scores = rng.normal(size=(n, k))
        scores[np.arange(n), y] += 2.5 - noise * (rng.random(n) < 0.5)
        rows = "".join(f"i{i}," + ",".join(f"{v:.6f}" for v in scores[i]) + "\n" for i in range(n))
        (workdir / f"{name}.csv").write_text("id," + ",".join(f"c{j}" for j in range(k)) + "\n" + rows)
    good = _score(cli, "classification", workdir / "gt.csv", workdir / "good.csv")
    bad = _score(cli, "classification", workdir / "gt.csv", workdir / "bad.csv")
    assert _gate(cli, good, bad)[0] == 1 and _gate(cli, good, good)[0] == 0
    code, out, _ = cli("compare", good, bad, "--json", "--bootstrap", "500")
    assert code == 0 and json.loads(out)["metrics"][0]["verdict"] == "worse"
    # detection: a COCO results file against one with most boxes dropped
    images = [{"id": i + 1, "file_name": f"{i}.png", "width": 64, "height": 64} for i in range(40)]
    anns, good_dets, bad_dets = [], [], []
    for im in images:
        for _ in range(2):
            box = [*rng.uniform(0, 30, 2).tolist(), *rng.uniform(10, 30, 2).tolist()]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": 1,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
            det = {"image_id": im["id"], "category_id": 1, "bbox": box, "score": float(rng.uniform(0.5, 1))}
            good_dets.append(det)
            if rng.random() < 0.5:
                bad_dets.append(det)
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "thing"}]}
    (workdir / "inst.json").write_text(json.dumps(gt))
    (workdir / "good.json").write_text(json.dumps(good_dets))
    (workdir / "bad.json").write_text(json.dumps(bad_dets))
    good = _score(cli, "detection", workdir / "inst.json", workdir / "good.json")
    bad = _score(cli, "detection", workdir / "inst.json", workdir / "bad.json")
    assert _gate(cli, good, bad)[0] == 1 and _gate(cli, good, good)[0] == 0
    # segmentation: mask folders
    for name in ("gt", "good", "bad"):
        (workdir / name).mkdir()
    for i in range(20):
        truth = rng.integers(0, 3, (16, 16)).astype(np.uint8)
        noisy = np.where(rng.random(truth.shape) < 0.4, rng.integers(0, 3, truth.shape), truth)
        Image.fromarray(truth).save(workdir / "gt" / f"{i}.png")
        Image.fromarray(truth).save(workdir / "good" / f"{i}.png")
        Image.fromarray(noisy.astype(np.uint8)).save(workdir / "bad" / f"{i}.png")
    good = _score(cli, "segmentation", workdir / "gt", workdir / "good", "--num-classes", "3")
    bad = _score(cli, "segmentation", workdir / "gt", workdir / "bad", "--num-classes", "3")
    assert _gate(cli, good, bad)[0] == 1 and _gate(cli, good, good)[0] == 0
    code, out, _ = cli("rescore", bad, "--json")
    assert code == 0 and json.loads(out)["metrics"]["miou"] < 0.9


def test_holm_and_primary_policies() -> None:
    from visionbench.harness.gate import holm, kind_rules

    assert holm([0.01, 0.04, 0.03], 0.05) == [(True, 0.05 / 3), (False, 0.05 / 1), (False, 0.05 / 2)]
    assert holm([0.001, 0.02], 0.05) == [(True, 0.025), (True, 0.05)]
    rules = kind_rules(
        {"classification": {"multiplicity": "primary", "metrics": {"top1": 0.01, "f1_macro": "2%"}}},
        "classification",
    )
    assert rules.primary == "top1" and rules.metrics[1].relative and rules.metrics[1].margin == 0.02


def test_compare_resolves_mlflow_run_ids(workdir: Path, cli) -> None:
    ids = []
    for model in ("zoo:digits-linear", "zoo:digits-mlp"):
        code, out, err = cli("run", "--quiet", "--json", "--bootstrap", "0", "--limit", "100", "--task", "digits",
                             "--model", model)  # fmt: skip
        assert code == 0, err
        tracking = json.loads(out)["tracking"]
        assert tracking["status"] == "logged"
        ids.append(tracking["run_id"])
    code, out, err = cli("compare", *ids, "--json", "--bootstrap", "200")
    assert code == 0, err
    report = json.loads(out)
    assert report["num_samples"] == 100 and report["b"]["model"] == "zoo:digits-mlp"
    code, _, err = cli("compare", ids[0], "0123456789abcdef", "--bootstrap", "200")
    assert code == 2 and "no run folder or record at '0123456789abcdef'" in err


def test_plan_gate_sizes_the_subset(workdir: Path, cli) -> None:
    import math
    from statistics import NormalDist

    code, out, err = cli("run", "--no-track", "--quiet", "--json", "--bootstrap", "0", "--task", "digits",
                         "--model", "zoo:digits-mlp")  # fmt: skip
    run = str(Path(json.loads(out)["record"]).parent)
    code, out, err = cli(
        "plan-gate", run, "--drop", "0.05", "--margin", "0.01", "--json", "--write", "plan.json"
    )
    assert code == 0, err
    report = json.loads(out)
    z = NormalDist().inv_cdf(0.95) + NormalDist().inv_cdf(0.8)
    assert report["samples_needed"] == math.ceil((z * math.sqrt(0.05 - 0.05**2) / 0.04) ** 2)
    assert (
        len(report["samples"]) == report["samples_needed"]
        and json.loads(Path("plan.json").read_text()) == report
    )
    code, out, _ = cli("plan-gate", run, "--drop", "0.03", "--margin", "0.02")
    assert code == 0 and "the task has only 540 samples" in out


def _report(verdict: str) -> dict:
    row = {"metric": "top1", "baseline": 0.9, "candidate": 0.89, "delta": -0.01, "ci_low": -0.03, "ci_high": 0.01,
           "confidence": 0.9, "margin": 0.015, "verdict": verdict, "note": "the interval straddles the margin",
           "inconclusive_policy": "warn", "deciding": True}  # fmt: skip
    secondary = {**row, "metric": "f1_macro", "verdict": "fail", "deciding": False, "note": "inferior"}
    efficiency = {"metric": "latency_ms_p99", "baseline": 3.0, "candidate": 9.0, "tolerance": 0.2,
                  "verdict": "skipped", "note": "different hardware (a vs b): not comparable"}  # fmt: skip
    return {"kind": "classification", "task": "classification:csv:x|y", "num_samples": 100, "resamples": 500,
            "alpha": 0.05, "multiplicity": "primary", "metrics": [row, secondary], "efficiency": [efficiency],
            "baseline": {"model": "zoo:a | <script>alert(1)</script>"}, "candidate": {"model": "*bold* [x](javascript:y)"},
            "verdict": "pass", "exit_code": 0, "warnings": ["top1: inconclusive (the interval straddles the margin)"]}  # fmt: skip


def test_markdown_escapes_names_and_junit_maps_every_outcome(tmp_path: Path) -> None:
    from visionbench.harness.gate_report import gate_junit, gate_markdown

    report = _report("inconclusive")
    text = gate_markdown(report)
    assert text.startswith("## ✅ visionbench gate: PASS")
    assert "<script>" not in text and "javascript:" not in text.replace("javascript\\:", "")
    table = [line for line in text.splitlines() if line.startswith("| top1")][0]
    assert table.count(" | ") == 6  # no cell broken by a pipe in a name
    assert "**fail** (not gating)" in text and "| latency_ms_p99 |" in text and "- warning: top1" in text
    path = tmp_path / "gate.xml"
    path.write_text(gate_junit(report))
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "0", "3")
    junitparser = pytest.importorskip("junitparser")
    cases = {c.name: c for s in junitparser.JUnitXml.fromfile(str(path)) for c in s}
    assert all(isinstance(c.result[0], junitparser.Skipped) for c in cases.values())
    report["metrics"][0]["inconclusive_policy"] = "fail"
    path.write_text(gate_junit(report))
    cases = {c.name: c for s in junitparser.JUnitXml.fromfile(str(path)) for c in s}
    assert (
        isinstance(cases["top1"].result[0], junitparser.Failure)
        and cases["top1"].result[0].type == "inconclusive"
    )

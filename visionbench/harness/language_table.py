"""``visionbench language-table``: the README's "Does language help?" table, from the recorded runs.

The values come from MLflow: for every task on which the plain zoo baseline of the language comparison
(``zoo:<data>-lang-plain``) has a finished run, the latest finished run of each of the three heads on that
task; each row shows the task's headline metric with its 95% bootstrap interval as logged. The difference
of a text-fused head from the plain one is the difference of those logged values; its 95% interval and
p-value are the paired comparison of the two runs (:func:`visionbench.harness.compare.compare_runs`: the
same images resampled together; exact McNemar p for top-1), read from the run folders under ``--output``
that the MLflow runs name. The verdict says "helps" or "hurts" only when that p-value is below 0.05.
Where the no-language control (``*-lang-random``: the attention head over random unit vectors) has a run,
a second table compares each text-fused head with it the same way, which tells a gain of the language
apart from a gain of the cosine-similarity head.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from visionbench.errors import ConfigError, DataError

START = "<!-- language-table:start -->"
END = "<!-- language-table:end -->"
HEADS = ("plain", "attend", "project", "random")
HEAD_LABELS = {
    "plain": "plain CNN (no text)",
    "attend": "attention over fixed text",
    "project": "attention, learned text projection",
    "random": "control: attention over random vectors",
}
ALPHA = 0.05


@dataclass
class TableRow:
    """One model on one task: the logged headline value, its interval, and the paired difference from plain."""

    task: str
    kind: str
    metric: str
    model: str
    head: str
    run_id: str
    num_samples: int
    value: float
    ci_low: float
    ci_high: float
    delta: float | None = None
    delta_low: float | None = None
    delta_high: float | None = None
    p_value: float | None = None
    test: str = ""
    verdict: str = "baseline"
    extra: dict[str, Any] = field(default_factory=dict)


def add_parser(sub: Any) -> None:
    table = sub.add_parser(
        "language-table",
        help='write the README table "Does language help?" from the recorded runs of the language zoo models',
    )
    table.add_argument(
        "--tracking-uri", default=None, help="MLflow tracking URI to read (default: as for run)"
    )
    table.add_argument("--suite", default=None, help="read only this MLflow experiment (default: all)")
    table.add_argument(
        "--output",
        default="results/runs",
        help="results folder holding the runs' folders (paired statistics)",
    )
    table.add_argument("--readme", default="README.md", help="the file whose marked section is replaced")
    table.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the file's table differs from the runs",
    )
    table.add_argument(
        "--bootstrap", type=int, default=2000, help="paired bootstrap resamples (default 2000)"
    )
    table.add_argument("--seed", type=int, default=0, help="seed of the paired resamples")
    table.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")


def _spec_head(spec: str) -> tuple[str, str] | None:
    """``zoo:digits-lang-attend`` -> ``("digits", "attend")``; None for any other model."""
    from visionbench.zoo.catalog import ZOO  # first: the catalogue imports the language entries itself
    from visionbench.zoo.language_catalog import LANGUAGE_MODELS

    name = spec.removeprefix("zoo:")
    if not spec.startswith("zoo:") or name not in LANGUAGE_MODELS or name not in ZOO:
        return None
    return name.rsplit("-lang-", 1)[0], LANGUAGE_MODELS[name][1]


def latest_runs(uri: str, suite: str | None = None) -> dict[tuple[str, str], Any]:
    """The latest finished MLflow run of each (task id, language model spec)."""
    from visionbench.harness.tracking import client_for

    client = client_for(uri)
    if suite is not None:
        experiment = client.get_experiment_by_name(suite)
        if experiment is None:
            raise ConfigError(f"--suite {suite}: no such MLflow experiment at {uri}")
        experiments = [experiment.experiment_id]
    else:
        experiments = [e.experiment_id for e in client.search_experiments()]
    found: dict[tuple[str, str], Any] = {}
    if not experiments:
        return found
    runs = client.search_runs(
        experiments,
        "tags.`vb.model` LIKE 'zoo:%-lang-%' AND attributes.status = 'FINISHED'",
        max_results=5000,
        order_by=["attributes.start_time DESC"],
    )
    for run in runs:
        tags = run.data.tags
        if _spec_head(tags.get("vb.model", "")) is None:
            continue
        found.setdefault((tags.get("vb.task", ""), tags["vb.model"]), run)
    return found


def _metrics(run: Any) -> dict[str, float]:
    from visionbench.harness.mlflow_keys import restore

    return restore(run.data.metrics, run.data.tags)


def collect(uri: str, suite: str | None, output: Path, *, resamples: int, seed: int) -> list[TableRow]:
    """Rows for every task with a plain baseline run, the baseline first, in the heads' order."""
    from visionbench.declarations import headline_key

    runs = latest_runs(uri, suite)
    rows: list[TableRow] = []
    for task in sorted({t for t, _ in runs}, key=lambda t: (t.startswith("robustness:"), t)):
        by_head = {_spec_head(spec)[1]: (spec, run) for (t, spec), run in runs.items() if t == task}
        if "plain" not in by_head:
            continue
        data = {_spec_head(spec)[0] for spec, _ in by_head.values()}
        if len(data) != 1:
            raise DataError(f"task {task}: runs of models trained on different datasets: {sorted(data)}")
        kind = by_head["plain"][1].data.tags.get("vb.kind", "")
        metric = headline_key(kind)
        base = None
        for head in (h for h in HEADS if h in by_head):
            spec, run = by_head[head]
            values = _metrics(run)
            if metric not in values:
                raise DataError(f"MLflow run {run.info.run_id} ({spec} on {task}) has no metric {metric!r}")
            row = TableRow(
                task=task,
                kind=kind,
                metric=metric,
                model=spec,
                head=head,
                run_id=run.info.run_id,
                num_samples=int(float(run.data.params.get("task.num_samples", "0") or 0)),
                value=values[metric],
                ci_low=values.get(f"{metric}_ci_low", math.nan),
                ci_high=values.get(f"{metric}_ci_high", math.nan),
            )
            if kind == "robustness":
                row.extra = {k: values[k] for k in ("clean_top1", "mce") if k in values}
            if base is None:
                base = row
            else:
                _paired(base, row, output, resamples=resamples, seed=seed)
            rows.append(row)
    return rows


def controls(rows: list[TableRow], output: Path, *, resamples: int, seed: int) -> list[TableRow]:
    """Each text-fused head against the random-vector control of its task (same head, no language)."""
    out = []
    for control in (r for r in rows if r.head == "random"):
        for row in rows:
            if row.task == control.task and row.head in ("attend", "project"):
                versus = replace(row, delta=None, delta_low=None, delta_high=None, p_value=None, test="")
                _paired(control, versus, output, resamples=resamples, seed=seed)
                out.append(versus)
    return out


def _paired(base: TableRow, row: TableRow, output: Path, *, resamples: int, seed: int) -> None:
    """Fill the difference from the baseline: the logged values' difference, the paired interval and test."""
    from visionbench.harness.compare import compare_runs, load

    row.delta = row.value - base.value
    try:
        a, b = load(base.run_id, output=output), load(row.run_id, output=output)
    except DataError:
        row.verdict = "not tested (run folders not found)"
        return
    report = compare_runs(a, b, resamples=resamples, seed=seed, alpha=ALPHA, metrics=(row.metric,))
    found = next((m for m in report["metrics"] if m["metric"] == row.metric), None)
    if found is None:
        row.verdict = "not tested (no paired statistics)"
        return
    row.delta_low, row.delta_high = found["ci_low"], found["ci_high"]
    row.p_value, row.test = found["p_value"], found["test"]
    row.verdict = {"better": "helps", "worse": "hurts"}.get(found["verdict"], "no detectable difference")


def _num(value: float | None, sign: bool = False) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:+.4f}" if sign else f"{value:.4f}"


def _p(value: float | None) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def render(rows: list[TableRow], source: str, versus: list[TableRow] | None = None) -> str:
    """The Markdown between the README markers (no timestamps: the same runs give the same text)."""
    if not rows:
        return (
            "No recorded runs of the language zoo models yet: run the commands above, then "
            "`visionbench language-table`.\n"
        )
    tasks = list(dict.fromkeys(r.task for r in rows))
    names = {"top1": "top-1", "robust_top1": "robust top-1"}
    lines = [
        "| task | model | head | metric [95% CI] | vs plain [95% paired CI] | p | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        label = f"T{tasks.index(row.task) + 1}: {names.get(row.metric, row.metric)}, n={row.num_samples}"
        delta = ""
        if row.head != "plain":
            delta = f"{_num(row.delta, True)} [{_num(row.delta_low, True)}, {_num(row.delta_high, True)}]"
        lines.append(
            f"| {label} | `{row.model}` | {HEAD_LABELS[row.head]} | {_num(row.value)} "
            f"[{_num(row.ci_low)}, {_num(row.ci_high)}] | {delta} | {'' if row.head == 'plain' else _p(row.p_value)} "
            f"| {row.verdict} |"
        )
    lines.append("")
    lines += [f"- T{k}: `{task}`" for k, task in enumerate(tasks, start=1)]
    if versus:
        lines += [
            "",
            "Language or the head? Each text-fused model against the random-vector control of its task:",
            "",
            "| task | model | vs control [95% paired CI] | p | verdict |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in versus:
            lines.append(
                f"| T{tasks.index(row.task) + 1} | `{row.model}` | {_num(row.delta, True)} "
                f"[{_num(row.delta_low, True)}, {_num(row.delta_high, True)}] | {_p(row.p_value)} | {row.verdict} |"
            )
    helps = sum(r.verdict == "helps" for r in rows if r.head in ("attend", "project"))
    compared = sum(r.head in ("attend", "project") for r in rows)
    lines += [
        "",
        f"Text helps in {helps} of {compared} comparisons with the plain CNN{_against_control(versus)} "
        f"(p < {ALPHA}: exact McNemar for top-1, paired bootstrap otherwise). Generated by `visionbench language-table` from the latest finished MLflow run "
        f"of each model and task ({source}).",
    ]
    return "\n".join(lines) + "\n"


def _against_control(versus: list[TableRow] | None) -> str:
    if not versus:
        return ""
    return (
        f" and in {sum(r.verdict == 'helps' for r in versus)} of {len(versus)} with the random-vector control"
    )


def replace_section(text: str, body: str, path: Path) -> str:
    """``text`` with the part between the markers replaced by ``body``; missing markers name the file."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise DataError(f"{path}: no '{START}' ... '{END}' section to fill with the table")
    return text[: start + len(START)] + "\n" + body + text[end:]


def language_table_command(args: argparse.Namespace) -> int:
    from visionbench.harness.tracking import resolve_tracking_uri

    readme = Path(args.readme)
    old = readme.read_text(encoding="utf-8")
    replace_section(old, "", readme)  # a file without the markers fails before any run is read
    uri = resolve_tracking_uri(args.tracking_uri)
    rows = collect(uri, args.suite, Path(args.output), resamples=args.bootstrap, seed=args.seed)
    versus = controls(rows, Path(args.output), resamples=args.bootstrap, seed=args.seed)
    source = "MLflow experiment " + args.suite if args.suite else "all MLflow experiments"
    new = replace_section(old, render(rows, source, versus), readme)
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows], "versus_control": [asdict(r) for r in versus]},
                         indent=1, default=str))  # fmt: skip
    if args.check:
        if new != old:
            print(f"{readme}: the language table differs from the recorded runs", file=sys.stderr)
            return 1
        return 0
    if new != old:
        readme.write_text(new, encoding="utf-8")
    if not args.json:
        print(f"{readme}: language table with {len(rows)} rows from {len({r.task for r in rows})} tasks")
    return 0

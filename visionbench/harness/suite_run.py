"""``visionbench suite run SUITE.yaml [--shard i/N]``: run a suite file's matrix into one MLflow experiment.

Each run goes through :func:`visionbench.harness.runner.execute`. Before predicting, a run whose
content identity (the run identity of :mod:`visionbench.harness.identity`) already has a complete
run folder under the output root, logged to the same tracking URI and experiment, is not run again:
its stored outcome is reported (``stored``). A run whose identity is new still reuses any stored
predictions (the prediction store), so an overlapping shard infers nothing twice. The shifted runs
of a generalisation pairing carry their gap (:mod:`visionbench.harness.generalisation`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionbench.errors import VisionbenchError
from visionbench.harness.suite_file import SuiteRun


@dataclass
class SuiteOutcome:
    """What became of one suite run: ``ran``, ``stored`` (same content identity found) or ``skipped``."""

    run: SuiteRun
    status: str
    record: dict[str, Any] | None = None
    directory: Path | None = None
    note: str = ""


def add_parser(sub: Any) -> None:
    from visionbench.harness.cli import _add_run_options

    suite = sub.add_parser("suite", help="run a suite file: a declared matrix of models x tasks")
    actions = suite.add_subparsers(dest="suite_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="run a suite file (or one shard of it) into one MLflow experiment, skipping stored runs"
    )
    run.add_argument("suite_file", metavar="SUITE", help="the suite YAML file")
    run.add_argument(
        "--shard",
        default=None,
        metavar="i/N",
        help="run slice i of N (0 <= i < N), e.g. $SLURM_ARRAY_TASK_ID/4; slices are disjoint and cover the suite",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="list the runs of the (shard of the) suite and exit"
    )
    run.add_argument("--json", action="store_true", help="print a JSON summary of the runs on stdout")
    _add_run_options(run)
    run.set_defaults(suite=None)  # the experiment: --suite, else the file's name


def suite_command(args: argparse.Namespace) -> int:
    from visionbench.harness.suite_file import load_suite, parse_shard, shard

    suite = load_suite(args.suite_file)
    index, count = parse_shard(args.shard) if args.shard else (0, 1)
    runs = shard(suite, index, count)
    experiment = args.suite or suite.name
    if args.dry_run:
        listing = [_describe(run) for run in runs]
        if args.json:
            print(json.dumps({"suite": suite.name, "shard": f"{index}/{count}", "runs": listing}, indent=1))
        else:
            print(
                f"suite {suite.name} ({suite.path}), shard {index}/{count}: {len(runs)} of {len(suite.runs)} runs"
            )
            for run in runs:
                print(f"  {run.label()}" + (f"   [shifted: {run.pairing.name}]" if run.pairing else ""))
        return 0
    outcomes = run_suite(runs, args, experiment=experiment, quiet=args.quiet or args.json)
    if args.json:
        summary = [{**_describe(o.run), "status": o.status, "note": o.note, **_result(o)} for o in outcomes]
        print(
            json.dumps(
                {"suite": suite.name, "shard": f"{index}/{count}", "experiment": experiment, "runs": summary}
            )
        )
    elif not args.quiet:
        counts = {s: sum(o.status == s for o in outcomes) for s in ("ran", "stored", "skipped")}
        print(
            f"suite {suite.name}, shard {index}/{count}: {len(outcomes)} runs "
            f"({counts['ran']} ran, {counts['stored']} already stored, {counts['skipped']} skipped); "
            f"experiment {experiment!r}, records under {args.output}"
        )
    return 0


def run_suite(
    runs: list[SuiteRun], args: argparse.Namespace, *, experiment: str, quiet: bool = False
) -> list[SuiteOutcome]:
    """Run ``runs`` in order (each shifted run after its reference); returns one outcome per run."""
    done: dict[str, SuiteOutcome] = {}
    outcomes = []
    for number, run in enumerate(runs, start=1):
        head = f"[{number}/{len(runs)}]"
        announce = (lambda h=head, r=run: print(f"{h} {r.label()}", flush=True)) if not quiet else None
        try:
            outcome = _one(run, args, experiment, done, quiet, announce)
        except VisionbenchError as exc:  # name the suite entry too: a fleet's log should say which run
            raise type(exc)(f"{run.where}: {run.label()}: {exc}") from exc
        done[run.key] = outcome
        outcomes.append(outcome)
        if not quiet:
            _print(head, outcome)
    return outcomes


def _one(
    run: SuiteRun,
    args: argparse.Namespace,
    experiment: str,
    done: dict[str, SuiteOutcome],
    quiet: bool,
    announce: Any = None,
) -> SuiteOutcome:
    from visionbench.harness.runner import execute

    missing = [p for p in run.options.get("requires", []) if not Path(p).exists()]
    if missing:
        hint = run.options.get("hint")
        return SuiteOutcome(run, "skipped", note=f"{missing[0]} not found" + (f" ({hint})" if hint else ""))
    reference = done.get(run.pairing.reference) if run.pairing else None
    if run.pairing and (reference is None or reference.record is None):
        return SuiteOutcome(run, "skipped", note=f"its in-distribution run was not run ({run.pairing.name})")
    spec = run_spec(run, args)
    if announce is not None:
        announce()
    bootstrap = int(run.options.get("bootstrap", args.bootstrap))
    track = not args.no_track
    outcome = execute(
        spec,
        output=Path(args.output),
        suite=experiment,
        tracking_uri=args.tracking_uri,
        track=track,
        quiet=quiet,
        bootstrap_reps=bootstrap,
        workers=args.workers,
        on_bad_sample=args.on_bad_sample,
        use_store=not args.no_cache,
        reuse_stored=None if args.no_cache else _StoredRun(spec, args, experiment, track, reference, run),
        annotate=_Gap(run, reference, bootstrap) if reference is not None else None,
        **({"checks": False} if getattr(args, "no_checks", False) else {}),
    )
    status = "stored" if outcome.result is None else "ran"
    return SuiteOutcome(run, status, outcome.record, outcome.directory)


def run_spec(run: SuiteRun, args: argparse.Namespace) -> Any:
    """The :class:`RunSpec` of a suite run: entry options over the command line's flags."""
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec
    from visionbench.harness.suite_file import _stringified

    opts = run.options
    model_args = dict(opts.get("model_args") or {})
    if opts.get("trust_remote_code") and run.model.startswith("hf:"):
        model_args["trust_remote_code"] = True
    model = parse_model_spec(
        run.model, weights=opts.get("weights"), options=model_args, label_map=opts.get("label_map")
    )
    task = parse_task_spec(run.task, _stringified(opts.get("task_args")))
    return RunSpec(
        model,
        task,
        opts.get("device", args.device),
        opts.get("precision", args.precision),
        opts.get("batch_size", args.batch_size),
        opts.get("limit", args.limit),
        channels_last=bool(opts.get("channels_last", args.channels_last)),
        compile=bool(opts.get("compile", args.compile)),
    )


class _StoredRun:
    """``reuse_stored`` for the runner: a complete run folder of the same run identity, logged as asked."""

    def __init__(
        self, spec: Any, args: argparse.Namespace, experiment: str, track: bool, reference: Any, run: SuiteRun
    ) -> None:
        self.spec, self.output, self.experiment, self.track = spec, Path(args.output), experiment, track
        self.tracking_uri, self.reference, self.run = args.tracking_uri, reference, run

    def __call__(self, identity: dict[str, Any]) -> Any:
        from visionbench.errors import DataError
        from visionbench.harness.record import RECORD_FILE, read_record, run_dir
        from visionbench.harness.runner import RunOutcome
        from visionbench.harness.tracking import resolve_tracking_uri

        precision = identity["components"]["precision"]
        folder = run_dir(self.output, self.spec.task.id, self.spec.model.spec, precision)
        uri = resolve_tracking_uri(self.tracking_uri) if self.track else None
        for path in sorted(folder.glob(f"*-{identity['run'][:12]}-*/{RECORD_FILE}"), reverse=True):
            try:
                record = read_record(path)
            except DataError:
                continue
            tracking = record.get("tracking") or {}
            if record.get("run_fingerprint") != identity["run"]:
                continue
            if self.track and (tracking.get("status"), tracking.get("uri"), tracking.get("experiment")) != (
                "logged",
                uri,
                self.experiment,
            ):
                continue
            if self.run.pairing is not None and not self._same_pairing(record):
                continue
            return RunOutcome(record, path.parent, None)
        return None

    def _same_pairing(self, record: dict[str, Any]) -> bool:
        section = record.get("generalisation") or {}
        reference = section.get("in_distribution") or {}
        return (
            section.get("name") == self.run.pairing.name
            and section.get("metric") == self.run.pairing.metric
            and reference.get("run_fingerprint") == self.reference.record["run_fingerprint"]
        )


class _Gap:
    """``annotate`` for the runner: the shifted run's record gets its generalisation section."""

    def __init__(self, run: SuiteRun, reference: SuiteOutcome, reps: int) -> None:
        self.run, self.reference, self.reps = run, reference, reps

    def __call__(self, record: dict[str, Any], task: Any) -> None:
        from visionbench.harness.generalisation import gap_section
        from visionbench.harness.rescore import load_task

        reference_record, reference_task, _ = load_task(self.reference.directory)
        record["generalisation"] = gap_section(
            name=self.run.pairing.name,
            metric=self.run.pairing.metric,
            reference_record=reference_record,
            reference_task=reference_task,
            shifted_record=record,
            shifted_task=task,
            reps=self.reps,
            seed=int((record.get("statistics") or {}).get("seed", 0)),
        )


def _describe(run: SuiteRun) -> dict[str, Any]:
    options = {k: v for k, v in run.options.items() if k not in ("requires", "hint")}
    pairing = {"pairing": run.pairing.name, "metric": run.pairing.metric} if run.pairing else {}
    return {"model": run.model, "task": run.task, "options": options, "entry": run.where, **pairing}


def _result(outcome: SuiteOutcome) -> dict[str, Any]:
    if outcome.record is None:
        return {}
    out = {
        "record": str(outcome.directory / "record.json"),
        "run_fingerprint": outcome.record["run_fingerprint"],
        "metrics": outcome.record["metrics"],
        "state": outcome.record.get("state"),
        "tracking": outcome.record.get("tracking"),
    }
    if "generalisation" in outcome.record:
        out["generalisation"] = outcome.record["generalisation"]
    return out


def _print(head: str, outcome: SuiteOutcome) -> None:
    from visionbench.harness.report import headline_line

    if outcome.record is None:
        print(f"{head} skipped {outcome.run.label()}: {outcome.note}", flush=True)
        return
    stored = " (already stored: same content identity, not run again)" if outcome.status == "stored" else ""
    print(f"      {headline_line(outcome.record)}{stored}", flush=True)
    section = outcome.record.get("generalisation")
    if section:
        print(f"      {gap_line(section)}", flush=True)


def gap_line(section: dict[str, Any]) -> str:
    """``generalisation gap top1: 0.5535 [0.5321, 0.5749] = classification:digits 0.9889 - ... 0.4354``."""
    low, high = section.get("gap_ci_low"), section.get("gap_ci_high")
    interval = f" [{low:.4f}, {high:.4f}]" if low is not None and high is not None else ""
    reference, shifted = section["in_distribution"], section["shifted"]
    return (
        f"generalisation gap {section['metric']} ({section['name']}): {section['gap']:.4f}{interval} = "
        f"{reference['task']} {reference['value']:.4f} - {shifted['task']} {shifted['value']:.4f}"
    )

"""The ``visionbench`` command line. Heavy modules are imported inside the handlers so ``--help`` is instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = "results/runs"
SCORE_OUTPUT_HELP = f"write the scored files as a run folder here (default {DEFAULT_OUTPUT})"


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda[:N], mps")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=64,
        help="images per batch, or auto: the largest batch that fits in memory (default 64)",
    )
    p.add_argument(
        "--channels-last", action="store_true", help="channels-last memory format for model and inputs"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the model (compile time is reported apart from throughput)",
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: automatic)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"results folder (default {DEFAULT_OUTPUT})")
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)",
    )
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="predict every sample again instead of reusing the state store's stored predictions",
    )
    p.add_argument("--suite", default="visionbench", help="MLflow experiment name")
    p.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples for confidence intervals (0: none)"
    )
    p.add_argument(
        "--on-bad-sample",
        default="fail",
        choices=["fail", "skip"],
        help="a sample that cannot be decoded: stop the run (fail, default) or skip it, listed in the record",
    )
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--no-checks", action="store_true", help="skip the trust checks (visionbench check) of each run"
    )


def _batch_size(text: str) -> int | str:
    """``auto`` or an integer; anything else is kept as text for cli_checks to reject by name."""
    text = text.strip()
    if text.lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        return text


def _add_paired_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", type=int, default=2000, help="paired bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the paired resamples")
    p.add_argument(
        "--output", default=DEFAULT_OUTPUT, help="results folder where MLflow run ids are looked up"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visionbench",
        description="Benchmark and evaluate vision models; log to MLflow; publish a leaderboard.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="evaluate models on tasks")
    run.add_argument(
        "--model",
        action="append",
        required=True,
        help="model spec, e.g. zoo:digits-cnn, torchvision:resnet18 (repeatable)",
    )
    run.add_argument(
        "--task",
        action="append",
        required=True,
        help="task spec, e.g. digits, classification:imagefolder:DIR (repeatable)",
    )
    run.add_argument(
        "--weights", default=None, help="weights name (torchvision: enum member or DEFAULT; none for random)"
    )
    run.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="K=V",
        help="model option (JSON value), repeatable",
    )
    run.add_argument("--task-arg", action="append", default=[], metavar="K=V", help="task option, repeatable")
    run.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="hf: models: allow running Python code shipped with the model (off by default; recorded)",
    )
    run.add_argument(
        "--label-map", default=None, help="dataset class -> model class: FILE.json|yaml or 'a=x,b=y'"
    )
    run.add_argument(
        "--json", action="store_true", help="print the results as JSON on stdout and nothing else"
    )
    _add_run_options(run)
    run.add_argument(
        "--remeasure",
        action="store_true",
        help="time the model again when every prediction came from the store (default: reuse the "
        "efficiency figures of an earlier run measured on the same hardware with the same settings)",
    )

    score = sub.add_parser("score", help="score prediction files without a model")
    score_sub = score.add_subparsers(dest="kind", required=True, metavar="KIND")
    sc = score_sub.add_parser(
        "classification", help="gt.csv (id,label) vs pred.csv (id,label or id + class scores)"
    )
    sc.add_argument("--gt", required=True)
    sc.add_argument("--pred", required=True)
    sc.add_argument("--json", action="store_true")
    sc.add_argument("--output", default=DEFAULT_OUTPUT, help=SCORE_OUTPUT_HELP)
    sd = score_sub.add_parser("detection", help="COCO instances JSON vs COCO results JSON")
    sd.add_argument("--gt", required=True, help="COCO instances JSON")
    sd.add_argument("--pred", required=True, help="COCO results JSON (list of detections)")
    sd.add_argument("--iou-type", default="bbox", choices=["bbox", "segm"])
    sd.add_argument(
        "--segm-area",
        default=None,
        choices=["mask", "box", "pycocotools"],
        help="segm: take each detection's area from its mask or its box "
        "(default: as pycocotools' loadRes does, the box when the results carry one)",
    )
    sd.add_argument("--json", action="store_true")
    sd.add_argument("--output", default=DEFAULT_OUTPUT, help=SCORE_OUTPUT_HELP)
    ss = score_sub.add_parser(
        "segmentation", help="ground-truth mask folder vs predicted mask folder (matched by name)"
    )
    ss.add_argument("--gt", required=True, help="folder of ground-truth label PNGs")
    ss.add_argument("--pred", required=True, help="folder of predicted label PNGs")
    ss.add_argument("--num-classes", type=int, required=True)
    ss.add_argument("--ignore-index", type=int, default=255)
    ss.add_argument("--class-names", default=None, help="file with one class name per line")
    ss.add_argument("--json", action="store_true")
    ss.add_argument("--output", default=DEFAULT_OUTPUT, help=SCORE_OUTPUT_HELP)
    scap = score_sub.add_parser(
        "captioning", help="COCO captions JSON vs COCO results JSON [{image_id, caption}]"
    )
    scap.add_argument("--gt", required=True, help="COCO captions JSON (images + annotations with captions)")
    scap.add_argument("--pred", required=True, help="COCO results JSON: one {image_id, caption} per image")
    scap.add_argument(
        "--meteor",
        default="auto",
        choices=["auto", "on", "off"],
        help="METEOR 1.5 via Java: auto (when java is on the PATH), on (fail without it), off",
    )
    scap.add_argument("--json", action="store_true")
    scap.add_argument("--output", default=DEFAULT_OUTPUT, help=SCORE_OUTPUT_HELP)

    compare = sub.add_parser("compare", help="paired comparison of two runs on the same samples")
    compare.add_argument("run_a", help="run A: a run folder, its record.json, or an MLflow run id")
    compare.add_argument("run_b", help="run B (deltas are B - A)")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    compare.add_argument("--markdown", action="store_true", help="print the comparison as a Markdown table")
    _add_paired_options(compare)

    gate = sub.add_parser(
        "gate", help="candidate vs baseline with rules: exit 0 pass, 1 fail, 2 inconclusive"
    )
    gate.add_argument("--baseline", required=True, help="run folder, record.json or MLflow run id")
    gate.add_argument("--candidate", required=True, help="run folder, record.json or MLflow run id")
    gate.add_argument("--rules", default=None, help="rules YAML (default: headline metric, margin 0.01)")
    gate.add_argument("--json", action="store_true", help="print the gate report as JSON")
    gate.add_argument(
        "--markdown", default=None, metavar="FILE", help="write a Markdown summary (PR comment)"
    )
    gate.add_argument("--junit", default=None, metavar="FILE", help="write a JUnit XML report")
    _add_paired_options(gate)

    plan = sub.add_parser("plan-gate", help="how many images a CI subset needs to catch a given drop")
    plan.add_argument("run_dir", help="a stored run of the task (its state estimates the variability)")
    plan.add_argument("--drop", type=float, required=True, help="the drop to catch, e.g. 0.03 (3 points)")
    plan.add_argument("--margin", type=float, default=0.0, help="the gate's non-inferiority margin")
    plan.add_argument("--alpha", type=float, default=0.05, help="the gate's one-sided alpha")
    plan.add_argument("--power", type=float, default=0.8, help="chance of failing a candidate with that drop")
    plan.add_argument("--metric", default=None, help="a bootstrapped metric (default: the headline)")
    plan.add_argument(
        "--write",
        default=None,
        metavar="FILE",
        help="write the plan and its stratified subset as JSON (run it: --task KIND:subset:FILE)",
    )
    plan.add_argument("--seed", type=int, default=0, help="seed of the stratified subset")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    ls = sub.add_parser("list", help="tasks, adapters, zoo models and recorded runs")
    ls.add_argument("what", nargs="?", default="all", choices=["all", "tasks", "adapters", "zoo", "runs"])
    ls.add_argument("--output", default=DEFAULT_OUTPUT)

    demo = sub.add_parser("demo", help="evaluate the built-in zoo on the built-in tasks and show the ranking")
    _add_run_options(demo)

    board = sub.add_parser("leaderboard", help="serve the Streamlit leaderboard")
    board.add_argument(
        "--source",
        default=None,
        help="MLflow tracking URI or a results/ folder of records (default: the tracking URI)",
    )
    board.add_argument("--host", default="127.0.0.1")
    board.add_argument("--port", type=int, default=8501)
    board.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="write a self-contained static HTML site (overview, model and compare pages) into DIR and exit",
    )

    rescore = sub.add_parser(
        "rescore", help="recompute a run's metrics from its stored state (no model, no images)"
    )
    rescore.add_argument("run_dir", help="a run folder (the one holding record.json)")
    rescore.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    rescore.add_argument(
        "--log", action="store_true", help="also write a new run folder beside it and log it to MLflow"
    )
    rescore.add_argument("--tracking-uri", default=None)
    rescore.add_argument("--no-track", action="store_true", help="with --log: write the folder, skip MLflow")

    from visionbench.robustness.grid_cli import add_parser as add_grid_parser

    add_grid_parser(sub)
    from visionbench.checks.command import add_parser as add_check_parser

    add_check_parser(sub)
    from visionbench.harness.language_table import add_parser as add_language_parser

    add_language_parser(sub)
    from visionbench.harness.suite_run import add_parser as add_suite_parser

    add_suite_parser(sub)
    sync = sub.add_parser("sync", help="log run folders whose MLflow logging is pending")
    sync.add_argument("--output", default=DEFAULT_OUTPUT)
    sync.add_argument(
        "--tracking-uri",
        default=None,
        help="log every pending run here (default: the tracking URI each run was meant for)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 bad input (one line naming it; argparse usage errors too), 3 internal error."""
    from visionbench.harness.cli_checks import add_debug_flag, check_args, failure

    parser = build_parser()
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    try:
        check_args(args)
        return _dispatch(args)
    except KeyboardInterrupt:
        print("visionbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line on stderr, never a traceback unless --debug
        return failure(exc, debug=args.debug)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "score":
        from visionbench.harness.cli_handlers import score_command

        return score_command(args)
    if args.command == "list":
        return _cmd_list(args)
    if args.command == "compare":
        from visionbench.harness.compare_cli import compare_command

        return compare_command(args)
    if args.command == "gate":
        from visionbench.harness.compare_cli import gate_command

        return gate_command(args)
    if args.command == "plan-gate":
        from visionbench.harness.compare_cli import plan_gate_command

        return plan_gate_command(args)
    if args.command == "demo":
        from visionbench.harness.demo import run_demo

        return run_demo(args)
    if args.command == "leaderboard" and args.export:
        from visionbench.leaderboard.data import resolve_source
        from visionbench.leaderboard.export import export_site

        pages = export_site(resolve_source(args.source), Path(args.export))
        print(f"wrote {len(pages)} pages to {args.export} (open index.html)")
        return 0
    if args.command == "leaderboard":
        from visionbench.leaderboard.server import serve

        return serve(source=args.source, host=args.host, port=args.port)
    if args.command == "rescore":
        from visionbench.harness.cli_handlers import rescore_command

        return rescore_command(args)
    if args.command == "check":
        from visionbench.checks.command import check_command

        return check_command(args)
    if args.command == "corruption-grid":
        from visionbench.robustness.grid_cli import grid_command

        return grid_command(args)
    if args.command == "language-table":
        from visionbench.harness.language_table import language_table_command

        return language_table_command(args)
    if args.command == "suite":
        from visionbench.harness.suite_run import suite_command

        return suite_command(args)
    if args.command == "sync":
        from visionbench.harness.tracking import sync_command

        return sync_command(Path(args.output), args.tracking_uri)
    raise AssertionError(args.command)


def _emit_json(obj: Any) -> None:
    from visionbench.harness.cli_handlers import emit_json

    emit_json(obj)


def _cmd_run(args: argparse.Namespace) -> int:
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_key_values, parse_model_spec, parse_task_spec

    options = parse_key_values(args.model_arg, option="--model-arg")
    task_options = parse_key_values(args.task_arg, option="--task-arg")
    if args.trust_remote_code and not any(m.startswith("hf:") for m in args.model):
        from visionbench.errors import ConfigError

        raise ConfigError("--trust-remote-code applies to hf: models only")
    models = [
        parse_model_spec(
            m,
            weights=args.weights,
            options={**options, "trust_remote_code": True}
            if args.trust_remote_code and m.startswith("hf:")
            else options,
            label_map=args.label_map,
        )
        for m in args.model
    ]
    tasks = [parse_task_spec(t, task_options) for t in args.task]
    outputs = []
    for task in tasks:
        for model in models:
            spec = RunSpec(
                model,
                task,
                args.device,
                args.precision,
                args.batch_size,
                args.limit,
                channels_last=args.channels_last,
                compile=args.compile,
            )
            outcome = execute(
                spec,
                output=Path(args.output),
                suite=args.suite,
                tracking_uri=args.tracking_uri,
                track=not args.no_track,
                quiet=args.quiet or args.json,
                bootstrap_reps=args.bootstrap,
                workers=args.workers,
                on_bad_sample=args.on_bad_sample,
                use_store=not args.no_cache,
                remeasure=args.remeasure,
                checks=not args.no_checks,
            )
            record = outcome.record
            if record is None:  # a rank other than 0 of a torchrun job: rank 0 reports
                continue
            outputs.append(
                {
                    "task": record["task"]["id"],
                    "model": record["model"]["spec"],
                    "metrics": record["metrics"],
                    "efficiency": record["efficiency"],
                    "record": str(outcome.directory / "record.json"),
                    "tracking": record.get("tracking"),
                }
            )
            if not args.json and not args.quiet:
                _print_run(record, outcome.directory)
    if args.json and outputs:
        _emit_json(outputs[0] if len(outputs) == 1 else {"runs": outputs})
    return 0


def _print_run(record: dict[str, Any], directory: Path) -> None:
    from visionbench.harness.report import headline_line

    print(headline_line(record))
    from visionbench.checks.findings import serious_lines

    for line in serious_lines(record):
        print(line)
    tracking = record.get("tracking") or {}
    status = tracking.get("status")
    where = f"MLflow run {tracking.get('run_id')}" if status == "logged" else f"MLflow {status}"
    print(f"  -> {directory / 'record.json'} ({where})")


def _cmd_list(args: argparse.Namespace) -> int:
    from visionbench.harness.report import list_everything

    list_everything(args.what, Path(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())

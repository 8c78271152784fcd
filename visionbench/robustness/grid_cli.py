"""``visionbench corruption-grid``: a model on a task under every corruption and severity.

The command form of :func:`visionbench.robustness.grid.run_grid`, for the kinds whose tasks have
no built-in grid (detection: mPC/rPC of mAP; segmentation: of mIoU; classification works too,
though the ``robustness:`` task kind also gives mCE). Each cell is an ordinary run folder (and
MLflow run unless ``--no-track``); the summary and heat map go to ``OUTPUT/corruption-grid/`` and,
unless ``--no-track``, into an MLflow run of their own (:mod:`visionbench.robustness.grid_tracking`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    grid = sub.add_parser(
        "corruption-grid",
        help="a model on a task under every corruption and severity: per-cell values, mPC and rPC",
    )
    grid.add_argument("--model", required=True, help="model spec, e.g. zoo:shapes-centernet")
    grid.add_argument("--task", required=True, help="task spec, e.g. detection:shapes")
    grid.add_argument(
        "--corruptions", default="common", help="common (15 ImageNet-C types), all (19) or a comma list"
    )
    grid.add_argument("--severities", default="1-5", help="1-5, a range a-b or a comma list")
    grid.add_argument("--limit", type=int, default=None, help="evaluate only the first N samples")
    grid.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    grid.add_argument("--seed", type=int, default=0, help="seed of the corruptions' noise (per sample)")
    grid.add_argument("--output", default="results/runs", help="run folders and the grid summary go here")
    grid.add_argument("--tracking-uri", default=None, help="MLflow tracking URI for the cells' runs")
    grid.add_argument("--no-track", action="store_true", help="do not log the cells to MLflow")
    grid.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def check_corruptions(value: Any, flag: str) -> None:
    from visionbench.errors import ConfigError
    from visionbench.robustness.options import parse_corruptions

    if value is None:
        return
    try:
        if not parse_corruptions(str(value)):
            raise ConfigError("no corruption named")
    except ConfigError as exc:
        raise ConfigError(f"{flag} {value}: {exc}") from None


def check_severities(value: Any, flag: str) -> None:
    from visionbench.robustness.options import parse_severities

    if value is not None:
        parse_severities(str(value), where=flag)


def grid_command(args: argparse.Namespace) -> int:
    from visionbench.robustness.grid import run_grid
    from visionbench.robustness.options import parse_corruptions, parse_severities

    summary = run_grid(
        args.model,
        args.task,
        corruptions=parse_corruptions(args.corruptions),
        severities=parse_severities(args.severities, where="--severities"),
        output=args.output,
        seed=args.seed,
        device=args.device,
        limit=args.limit,
        track=not args.no_track,
        tracking_uri=args.tracking_uri,
    )
    tracking = summary.get("tracking")
    if tracking and tracking["status"] != "logged":
        print(f"warning: the grid summary was not logged to MLflow: {tracking['error']}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return 0
    metrics = summary["metrics"]
    headline = summary["headline"]
    print(f"{args.model} on {args.task}: clean {headline} {metrics[headline]:.4f}")
    for key, value in metrics.items():
        if key.startswith("corrupt_"):
            print(f"  {key:<40} {value:.4f}")
    print(f"  mPC {metrics['mpc']:.4f}  rPC {metrics['rpc']:.4f}")
    print(f"  -> {summary['files']['summary']} (heat map {summary['files']['heatmap']})")
    if tracking and tracking["status"] == "logged":
        print(f"  MLflow run {tracking['run_id']} ({tracking['uri']})")
    return 0

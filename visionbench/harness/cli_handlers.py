"""Handlers of ``visionbench rescore`` and ``visionbench score`` (the parser is in :mod:`visionbench.harness.cli`).

Heavy modules are imported inside the handlers, as in the rest of the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def emit_json(obj: Any) -> None:
    from visionbench.harness.record import clean

    sys.stdout.write(json.dumps(clean(obj), sort_keys=False) + "\n")


def rescore_command(args: argparse.Namespace) -> int:
    from visionbench.harness.rescore import rescore, rescored_record

    run_dir = Path(args.run_dir)
    record, task, result = rescore(run_dir)
    out: dict[str, Any] = {
        "task": record["task"]["id"],
        "model": record["model"]["spec"],
        "run": str(run_dir),
        "metrics": result.metrics,
    }
    if args.log:
        from visionbench.harness.outputs import publish
        from visionbench.harness.store import StateStore, resolve_store

        new = rescored_record(record, task, result, run_dir)
        output = run_dir.parents[2]
        store: StateStore = resolve_store(run_dir, record)
        precision = record["environment"]["precision"]
        directory = publish(
            new,
            result,
            output,
            record["task"]["id"],
            record["model"]["spec"],
            precision,
            store,
            track=not args.no_track,
            tracking_uri=args.tracking_uri,
        )
        if args.no_track:
            new["tracking"] = {
                "uri": None,
                "experiment": None,
                "run_id": None,
                "status": "disabled",
                "error": None,
            }
            from visionbench.harness.record import write_record

            write_record(new, directory)
        else:
            from visionbench.harness.tracking import log_record

            log_record(new, directory, args.tracking_uri)
        out["record"] = str(directory / "record.json")
        out["tracking"] = new.get("tracking")
    if args.json:
        emit_json(out)
    else:
        for key, value in result.metrics.items():
            print(f"{key:28s} {value:.6f}" if value is not None and value == value else f"{key:28s} -")
        if args.log:
            print(f"  -> {out['record']}")
    return 0


def score_command(args: argparse.Namespace) -> int:
    if args.kind != "detection":
        return _score_command(args)
    import gc

    # A COCO results file is half a million small acyclic objects, kept to the end: the cyclic
    # collector would only walk them over and over (and once more at exit), so it rests meanwhile.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _score_command(args)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _score_command(args: argparse.Namespace) -> int:
    if args.kind == "captioning":
        from visionbench.harness.scoring_captioning import print_score

        return print_score(args)
    if args.kind == "detection":
        from visionbench.harness.scoring_detection import score_detection

        result = score_detection(
            Path(args.gt), Path(args.pred), iou_type=args.iou_type, segm_area=args.segm_area
        )
    elif args.kind == "segmentation":
        from visionbench.harness.scoring_segmentation import score_segmentation

        result = score_segmentation(
            Path(args.gt),
            Path(args.pred),
            num_classes=args.num_classes,
            ignore_index=args.ignore_index,
            class_names=args.class_names,
        )
    else:
        from visionbench.harness.scoring import score_classification

        result = score_classification(Path(args.gt), Path(args.pred))
    from visionbench.harness.compare_cli import write_score_run

    result["record"] = write_score_run(args)
    if args.json:
        emit_json(result)
    else:
        for key, value in result["metrics"].items():
            print(f"{key:24s} {value:.6f}" if value is not None else f"{key:24s} -")
        print(
            f"  -> {result['record']}"
            if result["record"]
            else "  (no run folder: the results carry no boxes)"
        )
    return 0

"""``visionbench check --model SPEC --task SPEC``: the trust checks on a small sample, printed.

The command evaluates the first ``--samples`` samples through the ordinary runner (into a
temporary folder, never logged) with the checks on, so the chance-level and label-permutation
checks see a real metric and confusion matrix. ``--write-golden`` first writes the model's
preprocessing golden file (into ``--golden-dir``, by default the package's own folder, where the
zoo's files are kept). Exit status: 0 without error findings, 1 with any, 2 for bad input.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_SAMPLES = 64
CHECK_BOOTSTRAP = 200
MAX_SAMPLES = 100_000


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "check", help="trust checks of one model on one task (broken adapters, preprocessing drift)"
    )
    p.add_argument("--model", required=True, help="model spec, e.g. zoo:digits-cnn")
    p.add_argument("--task", required=True, help="task spec, e.g. digits")
    p.add_argument("--weights", default=None, help="weights name or file (as for run)")
    p.add_argument(
        "--model-arg", action="append", default=[], metavar="K=V", help="model option (JSON value)"
    )
    p.add_argument("--task-arg", action="append", default=[], metavar="K=V", help="task option, repeatable")
    p.add_argument(
        "--label-map", default=None, help="dataset class -> model class: FILE.json|yaml or 'a=x,b=y'"
    )
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda[:N], mps")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    p.add_argument(
        "--batch-size", type=int, default=64, help="images per batch of the sample run (default 64)"
    )
    p.add_argument(
        "--samples",
        type=int,
        default=DEFAULT_SAMPLES,
        help=f"samples evaluated for the chance-level and permutation checks (default {DEFAULT_SAMPLES})",
    )
    p.add_argument(
        "--write-golden",
        action="store_true",
        help="write the model's preprocessing golden file first (the fixed image pack through its transform)",
    )
    p.add_argument(
        "--golden-dir",
        default=None,
        metavar="DIR",
        help="folder of preprocessing golden files (default: the package's visionbench/checks/golden)",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON on stdout and nothing else")


def check_samples(value: Any, flag: str) -> None:
    from visionbench.schema import Option

    Option("int", minimum=1, maximum=MAX_SAMPLES).check(flag, value)


def check_golden_dir(value: Any, flag: str) -> None:
    from visionbench.errors import ConfigError

    if value is None:
        return
    if not str(value).strip() or any(ord(c) < 32 for c in str(value)):
        raise ConfigError(f"{flag} {value!r}: must be non-empty text without control characters")
    if Path(value).exists() and not Path(value).is_dir():
        raise ConfigError(f"{flag} {value}: exists and is not a folder")


def check_command(args: argparse.Namespace) -> int:
    from visionbench.checks.findings import lines
    from visionbench.harness.runner import build_adapter, build_task, execute
    from visionbench.harness.specs import RunSpec, parse_key_values, parse_model_spec, parse_task_spec

    model = parse_model_spec(
        args.model,
        weights=args.weights,
        options=parse_key_values(args.model_arg, option="--model-arg"),
        label_map=args.label_map,
    )
    task_spec = parse_task_spec(args.task, parse_key_values(args.task_arg, option="--task-arg"))
    run = RunSpec(model, task_spec, args.device, args.precision, args.batch_size, args.samples)
    task = build_task(task_spec)
    kind = getattr(task, "adapter_kind", task.kind)
    adapter = build_adapter(run, kind)
    golden_dir = Path(args.golden_dir) if args.golden_dir else None
    written = None
    if args.write_golden:
        from visionbench.checks.parity import write_golden

        written = write_golden(adapter, kind, golden_dir)
    with tempfile.TemporaryDirectory(prefix="visionbench-check-") as folder:
        outcome = execute(
            run,
            output=Path(folder),
            track=False,
            quiet=True,
            bootstrap_reps=CHECK_BOOTSTRAP,
            adapter=adapter,
            dataset=task.dataset,
            use_store=False,
            checks=True,
            golden_dir=golden_dir,
        )
    record = outcome.record
    assert record is not None  # not under torchrun: this process is rank 0
    section = record["checks"]
    headline = _headline(record)
    if args.json:
        from visionbench.harness.cli_handlers import emit_json

        emit_json(
            {
                "model": model.spec,
                "task": task_spec.id,
                "samples": record["task"]["num_samples"],
                "headline": headline,
                "golden_written": str(written) if written else None,
                "checks": section,
            }
        )
    else:
        print(f"checks of {model.spec} on {task_spec.id} ({record['task']['num_samples']} samples)")
        if written:
            print(f"wrote golden file {written}")
        if headline:
            print(f"  {headline[0]} = {headline[1]:.4f} on the sample")
        for line in mapping_lines(section):
            print(line)
        for line in lines(section):
            print(line)
    return 1 if section["worst"] == "error" else 0


def _headline(record: dict[str, Any]) -> tuple[str, float] | None:
    from visionbench.declarations import headline_key

    key = headline_key(record["task"]["kind"])
    value = record["metrics"].get(key) if key else None
    return (key, float(value)) if isinstance(value, int | float) else None


def mapping_lines(section: dict[str, Any]) -> list[str]:
    """The label space the run used: how classes were matched and the mapping, in its direction."""
    space = (section.get("results") or {}).get("label_space") or {}
    mapping = space.get("mapping") or {}
    if not mapping:
        return []
    out = [f"label space ({space.get('how')}): {space.get('direction', 'dataset class -> model class')}"]
    for name, target in mapping.items():
        shown = " | ".join(map(str, target)) if isinstance(target, list) else str(target)
        out.append(f"  {name} -> {shown}")
    return out

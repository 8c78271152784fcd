"""The declared schema of every command-line option, checked right after parsing.

argparse checks types and choices; this adds ranges, formats and paths, with one-line
messages naming the flag and the bad value (exit 2). :data:`SCHEMA` maps each option's
``dest`` to a check; :func:`check_args` runs the checks of the options a command has. A test
walks the parser so that every option of every subcommand is declared here.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visionbench.errors import ConfigError, DataError
from visionbench.schema import Option
from visionbench.tasks.dataset_options import MAX_SEGMENTATION_CLASSES

Check = Callable[[Any, str], None]
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")
HOST = re.compile(r"^[A-Za-z0-9_.:\-\[\]]{1,253}$")
MAX_BATCH = 65536
MAX_WORKERS = 256
MAX_BOOTSTRAP = 100_000


def _option(option: Option) -> Check:
    def check(value: Any, flag: str) -> None:
        if value is not None:
            option.check(flag, value)

    return check


def _text(value: Any, flag: str) -> None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if v is not None and (not str(v).strip() or any(ord(c) < 32 for c in str(v))):
            raise ConfigError(f"{flag} {v!r}: must be non-empty text without control characters")


def _device(value: Any, flag: str) -> None:
    if not DEVICE.match(str(value)):
        raise ConfigError(f"{flag} {value!r}: must be auto, cpu, mps, cuda or cuda:N (N a device index)")


def _file(value: Any, flag: str) -> None:
    if value is None:
        return
    path = Path(value)
    if path.is_dir():
        raise DataError(f"{flag} {value}: is a folder, expected a file")
    if not path.is_file():
        raise DataError(f"{flag} {value}: file not found")


def _folder(value: Any, flag: str) -> None:
    path = Path(value)
    if path.is_file():
        raise DataError(f"{flag} {value}: is a file, expected a folder")
    if not path.is_dir():
        raise DataError(f"{flag} {value}: folder not found")


def _output(value: Any, flag: str) -> None:
    _text(value, flag)
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {value}: exists and is not a folder")


def _uri(value: Any, flag: str) -> None:
    from visionbench.harness.uris import validate_tracking_uri

    validate_tracking_uri(value, flag)


def _source(value: Any, flag: str) -> None:
    """leaderboard --source: an existing folder of records, or a tracking URI."""
    if value is not None and not Path(value).is_dir():
        _uri(value, flag)


def _export_dir(value: Any, flag: str) -> None:
    """leaderboard --export: a folder to write into (created), not an existing file."""
    if value is not None and Path(value).exists() and not Path(value).is_dir():
        raise ConfigError(f"{flag} {value}: exists and is not a folder; name a folder for the static site")


def _host(value: Any, flag: str) -> None:
    if not HOST.match(str(value)):
        raise ConfigError(f"{flag} {value!r}: not a host name or address")


def _label_map(value: Any, flag: str) -> None:
    if value is None:
        return
    _text(value, flag)
    if Path(value).suffix.lower() in (".json", ".yaml", ".yml"):
        _file(value, flag)


def _new_file(value: Any, flag: str) -> None:
    """A file to write: non-empty text, not a folder, in an existing folder."""
    if value is None:
        return
    _text(value, flag)
    path = Path(value)
    if path.is_dir():
        raise ConfigError(f"{flag} {value}: is a folder, expected a file to write")
    if not path.parent.is_dir():
        raise DataError(f"{flag} {value}: folder {path.parent} not found")


def _flag_or_file(value: Any, flag: str) -> None:
    if not isinstance(value, bool):
        _new_file(value, flag)


def _batch_size(value: Any, flag: str) -> None:
    """An integer in [1, MAX_BATCH], or ``auto``."""
    if value == "auto":
        return
    if not isinstance(value, int):
        raise ConfigError(f"{flag} {value!r}: must be a whole number of images or auto")
    Option("int", minimum=1, maximum=MAX_BATCH).check(flag, value)


def _none(value: Any, flag: str) -> None:
    """Checked elsewhere (argparse choices and flags, spec and key=value parsers)."""


SCHEMA: dict[str, tuple[str, Check]] = {
    # dest: (flag, check)
    "command": ("COMMAND", _none),
    "kind": ("KIND", _none),
    "debug": ("--debug", _none),
    "json": ("--json", _none),
    "quiet": ("--quiet", _none),
    "no_track": ("--no-track", _none),
    "no_cache": ("--no-cache", _none),
    "remeasure": ("--remeasure", _none),
    "log": ("--log", _none),
    "what": ("WHAT", _none),
    "iou_type": ("--iou-type", _none),
    "segm_area": ("--segm-area", _none),
    "meteor": ("--meteor", _none),  # argparse choices
    "trust_remote_code": ("--trust-remote-code", _none),
    "precision": ("--precision", _option(Option(choices=("fp32", "fp16", "bf16")))),
    "on_bad_sample": ("--on-bad-sample", _option(Option(choices=("fail", "skip")))),
    "model": ("--model", _text),
    "task": ("--task", _text),
    "weights": ("--weights", _text),
    "model_arg": ("--model-arg", _text),
    "task_arg": ("--task-arg", _text),
    "label_map": ("--label-map", _label_map),
    "device": ("--device", _device),
    "batch_size": ("--batch-size", _batch_size),
    "channels_last": ("--channels-last", _none),
    "compile": ("--compile", _none),  # a C++ compiler is checked when the model is compiled
    "limit": ("--limit", _option(Option("int", minimum=1))),
    "workers": ("--workers", _option(Option("int", minimum=0, maximum=MAX_WORKERS))),
    "bootstrap": ("--bootstrap", _option(Option("int", minimum=0, maximum=MAX_BOOTSTRAP))),
    "output": ("--output", _output),
    "tracking_uri": ("--tracking-uri", _uri),
    "suite": ("--suite", _text),
    "gt": ("--gt", _none),  # file or folder depending on the kind: see KIND_PATHS
    "pred": ("--pred", _none),
    "num_classes": ("--num-classes", _option(Option("int", minimum=1, maximum=MAX_SEGMENTATION_CLASSES))),
    "ignore_index": ("--ignore-index", _option(Option("int", minimum=-1, maximum=65535))),
    "class_names": ("--class-names", _file),
    "source": ("--source", _source),
    "host": ("--host", _host),
    "port": ("--port", _option(Option("int", minimum=1, maximum=65535))),
    "export": ("--export", _export_dir),  # a folder to write the static site into (created)
    "run_dir": ("RUN_DIR", _folder),
    "run_a": ("RUN_A", _text),  # a run folder, record.json or MLflow run id: resolved by compare.resolve_run
    "run_b": ("RUN_B", _text),
    "baseline": ("--baseline", _text),
    "candidate": ("--candidate", _text),
    "rules": ("--rules", _file),
    "corruptions": ("--corruptions", lambda v, f: _grid_check("check_corruptions", v, f)),
    "severities": ("--severities", lambda v, f: _grid_check("check_severities", v, f)),
    "seed": ("--seed", _option(Option("int", minimum=0, maximum=2**32 - 1))),
    "markdown": ("--markdown", _flag_or_file),  # compare: a flag; gate: the file to write
    "junit": ("--junit", _new_file),
    "drop": ("--drop", _option(Option("float", minimum=0.0, maximum=1e6))),
    "margin": ("--margin", _option(Option("float", minimum=0.0, maximum=1e6))),
    "alpha": ("--alpha", _option(Option("float", minimum=1e-9, maximum=0.5))),
    "power": ("--power", _option(Option("float", minimum=0.01, maximum=0.999999))),
    "metric": ("--metric", _text),
    "write": ("--write", _new_file),
    "suite_command": ("ACTION", _none),  # argparse choices
    "suite_file": ("SUITE", _file),  # its contents: harness/suite_file.py names file, entry and key
    "shard": ("--shard", lambda v, f: _shard(v, f)),
    "dry_run": ("--dry-run", _none),
    "readme": ("--readme", _file),  # language-table: the file whose marked section is replaced
    "check": ("--check", _none),
    "no_checks": ("--no-checks", _none),
    "write_golden": ("--write-golden", _none),
    "samples": ("--samples", lambda v, f: _checks_option("check_samples", v, f)),
    "golden_dir": ("--golden-dir", lambda v, f: _checks_option("check_golden_dir", v, f)),
}
# score KIND: what --gt and --pred must be
KIND_PATHS = {"classification": _file, "detection": _file, "segmentation": _folder, "captioning": _file}


def _checks_option(name: str, value: Any, flag: str) -> None:
    from visionbench.checks import command

    getattr(command, name)(value, flag)


def _shard(value: Any, flag: str) -> None:
    """suite run --shard: ``i/N`` with 0 <= i < N."""
    if value is not None:
        from visionbench.harness.suite_file import parse_shard

        parse_shard(value, flag)


def _grid_check(name: str, value: Any, flag: str) -> None:
    from visionbench.robustness import grid_cli

    getattr(grid_cli, name)(value, flag)


def check_args(args: argparse.Namespace) -> None:
    """Check every parsed option against :data:`SCHEMA`; raises ConfigError/DataError naming the flag."""
    values = vars(args)
    for dest, value in values.items():
        if dest not in SCHEMA:  # a new option not declared yet: tests/harness/test_bad_input.py says so
            continue
        flag, check = SCHEMA[dest]
        check(value, flag)
    if values.get("command") == "score":
        for dest in ("gt", "pred"):
            KIND_PATHS[values["kind"]](values[dest], f"--{dest}")
    if values.get("command") in ("compare", "gate", "language-table") and values["bootstrap"] < 1:
        raise ConfigError(
            f"--bootstrap {values['bootstrap']}: {values['command']} needs at least 1 paired resample"
        )
    command, track = values.get("command"), not values.get("no_track")
    logs = (
        command == "sync"
        or (command in ("run", "demo", "corruption-grid", "suite") and track)
        or (command == "rescore" and values["log"] and track)
    )
    if logs and values.get("tracking_uri") is None:
        environment_uri()


def environment_uri() -> None:
    """The tracking URI a run would use from ``$MLFLOW_TRACKING_URI``, checked like --tracking-uri."""
    import os

    from visionbench.harness.uris import validate_tracking_uri

    validate_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or None, "$MLFLOW_TRACKING_URI")


def declared_dests(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``dest`` of every (sub)parser: what :data:`SCHEMA` must cover."""
    out: set[str] = set()
    for action in parser._actions:  # argparse has no public walk over subparsers
        if isinstance(action, argparse._SubParsersAction):
            out.add(action.dest)
            for sub in action.choices.values():
                out |= declared_dests(sub)
        elif action.dest != "help":
            out.add(action.dest)
    return out


def add_debug_flag(parser: argparse.ArgumentParser, *, root: bool = True) -> None:
    """``--debug`` before or after the command (and the score kind): print the traceback of any error."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if root else argparse.SUPPRESS,
        help="on an error, print the traceback too",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_debug_flag(sub, root=False)


def failure(exc: BaseException, *, debug: bool = False) -> int:
    """Report ``exc`` on one line of stderr: exit 2 for bad input, 3 for a bug (``--debug``: the traceback too).

    A :class:`VisionbenchError` is bad input; so is an ``OSError`` about a named file (permission
    denied, a folder where a file was expected, a full disk): the user can fix it.
    """
    import sys
    import traceback

    from visionbench.errors import VisionbenchError

    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, VisionbenchError):
        print(f"visionbench: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    if isinstance(exc, OSError) and exc.filename is not None:
        print(f"visionbench: error: {exc.filename}: {one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    hint = "" if debug else " (run with --debug for the traceback)"
    print(f"visionbench: internal error: {type(exc).__name__}: {one_line(str(exc))}{hint}", file=sys.stderr)
    return 3


def one_line(text: str, limit: int = 2000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

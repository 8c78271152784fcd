"""Bad input never ends in a traceback: the table of docs/bad-input.md, one test per row.

Each case runs ``visionbench`` in-process on files built in a fresh folder and checks the exit
code (2: bad input, 3: internal error), a fragment of the one-line message that names the
option, file or sample at fault, and that no traceback was printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bad_input_caption_cases import CAPTION_CASES, build_caption_files
from bad_input_hf_text_cases import HF_TEXT_CASES
from bad_input_run_cases import RUN_CASES
from bad_input_score_cases import SCORE_CASES
from bad_input_support import DOC, Case, build_files

CASES = [*RUN_CASES, *SCORE_CASES, *CAPTION_CASES, *HF_TEXT_CASES]


@pytest.fixture
def files(workdir: Path) -> Path:
    build_files(workdir)
    build_caption_files(workdir)
    return workdir


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, files: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in case.env:
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(files))  # vbmodels.py
    args = [a.replace("{d}", str(files)) for a in case.args]
    code, out, err = cli(*args)
    assert "Traceback" not in err, err
    assert code == case.code, err
    if case.code == 0:
        return
    assert case.fragment.replace("{d}", str(files)) in err, err
    if not err.startswith("usage:"):  # argparse prints its usage, then the error line
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("visionbench: error: "), err
    assert out == ""


def test_internal_error_is_one_line_exit_3(workdir: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import visionbench.harness.cli as cli_module

    def boom(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli_module, "_dispatch", boom)
    code, out, err = cli("list")
    assert code == 3 and out == ""
    assert err.strip() == (
        "visionbench: internal error: ZeroDivisionError: a bug (run with --debug for the traceback)"
    )
    code, _, err = cli("--debug", "list")
    assert code == 3 and "Traceback" in err and "ZeroDivisionError: a bug" in err
    code, _, err = cli("list", "--debug")
    assert code == 3 and "Traceback" in err


def test_every_option_is_declared() -> None:
    from visionbench.harness.cli import build_parser
    from visionbench.harness.cli_checks import SCHEMA, add_debug_flag, declared_dests

    parser = build_parser()
    add_debug_flag(parser)
    missing = declared_dests(parser) - set(SCHEMA)
    assert not missing, (
        f"declare these options in visionbench/harness/cli_checks.py SCHEMA: {sorted(missing)}"
    )


def test_every_dataset_source_declares_its_options() -> None:
    from visionbench.registry import dataset_options, dataset_sources

    for kind, sources in dataset_sources().items():
        for source, _ in sources:
            assert dataset_options(kind, source) is not None, f"{kind}:{source}"


def test_docs_table_matches_the_cases() -> None:
    section = DOC.read_text(encoding="utf-8").split("## Cases", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.MULTILINE)
    assert sorted(rows) == sorted(c.id for c in CASES)
    assert len(rows) >= 40

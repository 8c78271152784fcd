"""Rendering a gate report: the terminal lines, the Markdown PR comment and JUnit XML."""

from __future__ import annotations

from typing import Any


def md_text(value: Any) -> str:
    """User text made safe for a Markdown table cell (escaped, no pipes or newlines)."""
    from visionbench.leaderboard.safe import md

    return md(str(value)).replace("|", "\\|").replace("\n", " ")


def _num(value: Any, digits: int = 4) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def verdict_line(report: dict[str, Any]) -> str:
    """The one line CI logs grep for: ``gate: PASS|FAIL|INCONCLUSIVE (exit N) ...``."""
    return (
        f"gate: {report['verdict'].upper()} (exit {report['exit_code']}) {report['candidate']['model']} vs "
        f"baseline {report['baseline']['model']} on {report['task']}"
    )


def gate_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"{report['task']}: candidate {report['candidate']['model']} vs baseline {report['baseline']['model']} "
        f"({report['num_samples']} paired samples, {report['resamples']} paired resamples, "
        f"alpha {report['alpha']}, multiplicity {report['multiplicity']})"
    ]
    for r in report["metrics"]:
        tag = "" if r["deciding"] else " (reported, not gating)"
        lines.append(
            f"  {r['metric']:14s} {_num(r['baseline'])} -> {_num(r['candidate'])}  delta {_num(r['delta'])}  "
            f"{round(100 * r['confidence'])}% [{_num(r['ci_low'])}, {_num(r['ci_high'])}]  margin {_num(r['margin'])}  "
            f"{r['verdict'].upper()}: {r['note']}{tag}"
        )
    for e in report["efficiency"]:
        lines.append(
            f"  {e['metric']:14s} {_num(e['baseline'], 2)} -> {_num(e['candidate'], 2)}  "
            f"{e['verdict'].upper()}: {e['note']}"
        )
    lines += [f"  warning: {w}" for w in report["warnings"]]
    lines.append(verdict_line(report))
    return lines


def gate_markdown(report: dict[str, Any]) -> str:
    """A PR comment: the verdict, one table of gated metrics, one of efficiency rules."""
    icon = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}[report["verdict"]]
    out = [
        f"## {icon} visionbench gate: {report['verdict'].upper()}",
        "",
        f"Candidate `{md_text(report['candidate']['model'])}` vs baseline `{md_text(report['baseline']['model'])}` "
        f"on `{md_text(report['task'])}`: {report['num_samples']} paired samples, {report['resamples']} paired "
        f"bootstrap resamples, alpha {report['alpha']} ({report['multiplicity']}).",
        "",
        "| metric | baseline | candidate | delta | interval | margin | verdict |",
        "| --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in report["metrics"]:
        tag = "" if r["deciding"] else " (not gating)"
        out.append(
            f"| {md_text(r['metric'])} | {_num(r['baseline'])} | {_num(r['candidate'])} | {_num(r['delta'])} | "
            f"{round(100 * r['confidence'])}% [{_num(r['ci_low'])}, {_num(r['ci_high'])}] | "
            f"{_num(r['margin'])} | **{r['verdict']}**{tag}: {md_text(r['note'])} |"
        )
    if report["efficiency"]:
        out += [
            "",
            "| efficiency | baseline | candidate | tolerance | verdict |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for e in report["efficiency"]:
            out.append(
                f"| {e['metric']} | {_num(e['baseline'], 2)} | {_num(e['candidate'], 2)} | "
                f"{100 * e['tolerance']:.0f}% | **{e['verdict']}**: {md_text(e['note'])} |"
            )
    if report["warnings"]:
        out += [""] + [f"- warning: {md_text(w)}" for w in report["warnings"]]
    return "\n".join(out) + "\n"


def gate_junit(report: dict[str, Any]) -> str:
    """JUnit XML: one testcase per gated metric and efficiency rule (fail -> failure, skipped -> skipped)."""
    import xml.etree.ElementTree as ET

    suite = ET.Element("testsuite", name=f"visionbench gate {report['task']}")
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    cases = [(r, f"visionbench.gate.{report['kind']}") for r in report["metrics"]]
    cases += [(e, f"visionbench.gate.{report['kind']}.efficiency") for e in report["efficiency"]]
    for row, classname in cases:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=classname, name=row["metric"], time="0")
        detail = (
            f"baseline {_num(row['baseline'])}, candidate {_num(row['candidate'])}"
            + (
                f", delta {_num(row['delta'])}, interval [{_num(row['ci_low'])}, {_num(row['ci_high'])}], "
                f"margin {_num(row['margin'])}"
                if "delta" in row
                else ""
            )
            + f": {row['note']}"
        )
        verdict = row["verdict"]
        deciding = row.get("deciding", True)
        if deciding and (
            verdict == "fail" or (verdict == "inconclusive" and row.get("inconclusive_policy") == "fail")
        ):
            counts["failures"] += 1
            failure = ET.SubElement(case, "failure", message=f"{verdict}: {row['note']}", type=verdict)
            failure.text = detail
        elif verdict in ("skipped", "inconclusive") or not deciding:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{verdict}: {row['note']}")
        else:
            ET.SubElement(case, "system-out").text = detail
    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failures"]))
    suite.set("errors", "0")
    suite.set("skipped", str(counts["skipped"]))
    root = ET.Element(
        "testsuites",
        name="visionbench gate",
        tests=str(counts["tests"]),
        failures=str(counts["failures"]),
        errors="0",
        skipped=str(counts["skipped"]),
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

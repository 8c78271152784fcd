"""Findings of the trust checks: what a check saw, how serious it is, and the record section they make.

Severities, from least to most serious: ``info`` (worth knowing: a mapping by position, a missing
golden file), ``warning`` (probably wrong: probabilities where logits were declared, preprocessing
that changed, a headline at chance) and ``error`` (certainly wrong: a model that ignores its input,
boxes outside the image, labels that look permuted). ``ok`` is the worst severity of a run with no
findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("ok", "info", "warning", "error")
SECTION_VERSION = 1


@dataclass(frozen=True)
class Finding:
    """One thing a check found; ``details`` holds the figures behind the message (JSON-able)."""

    check: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES[1:]:
            raise ValueError(f"severity must be one of {SEVERITIES[1:]}, not {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "details": self.details,
        }


def worst(findings: list[Finding] | list[dict[str, Any]]) -> str:
    """The most serious severity among ``findings`` (``ok`` when there are none)."""
    ranks = [SEVERITIES.index(f.severity if isinstance(f, Finding) else f["severity"]) for f in findings]
    return SEVERITIES[max(ranks, default=0)]


@dataclass
class CheckReport:
    """Everything the checks of one run produced: findings, per-check figures and the time spent."""

    findings: list[Finding] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, check: str, severity: str, message: str, **details: Any) -> None:
        self.findings.append(Finding(check, severity, message, details))

    def section(self) -> dict[str, Any]:
        """The record's ``checks`` section (see ``record_schema.json``)."""
        from visionbench.harness.record import clean

        return clean(
            {
                "version": SECTION_VERSION,
                "worst": worst(self.findings),
                "seconds": round(self.seconds, 6),
                "findings": [f.to_dict() for f in self.findings],
                "results": self.results,
                "skipped": self.skipped,
            }
        )


def section_worst(record: dict[str, Any]) -> str:
    """A record's worst check severity; ``""`` for records written without checks."""
    checks = record.get("checks")
    return str(checks.get("worst", "")) if isinstance(checks, dict) else ""


def lines(section: dict[str, Any]) -> list[str]:
    """The findings of a ``checks`` section as terminal lines, most serious first."""
    findings = sorted(section.get("findings", []), key=lambda f: -SEVERITIES.index(f["severity"]))
    if not findings:
        return [f"checks: ok ({len(section.get('results', {}))} checks, {section.get('seconds', 0):.2f} s)"]
    out = [f"checks: {section.get('worst')} ({len(findings)} finding(s), {section.get('seconds', 0):.2f} s)"]
    out += [f"  [{f['severity']}] {f['check']}: {f['message']}" for f in findings]
    return out


def serious_lines(record: dict[str, Any]) -> list[str]:
    """Warning and error findings of a run record, one line each (none for a clean run)."""
    checks = record.get("checks") if isinstance(record.get("checks"), dict) else {}
    return [
        f"  check [{f['severity']}] {f['check']}: {f['message']}"
        for f in checks.get("findings", [])
        if f.get("severity") in ("warning", "error")
    ]

"""Terminal output: one-line run summaries, ranked tables and listings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from visionbench.declarations import headline_key


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def headline_line(record: dict[str, Any]) -> str:
    kind = record["task"]["kind"]
    key = headline_key(kind)
    metrics, eff = record["metrics"], record["efficiency"]
    ci = ""
    if metrics.get(f"{key}_ci_low") is not None:
        ci = f" [{_fmt(metrics[f'{key}_ci_low'])}, {_fmt(metrics[f'{key}_ci_high'])}]"
    return (
        f"{record['model']['name']} on {record['task']['id']}: {key}={_fmt(metrics.get(key))}{ci} "
        f"({record['task']['num_samples']} samples, {_fmt(eff.get('throughput_ips'), 1)} img/s)"
    )


def ranked_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of one task sorted by headline metric, with tie-group ranks.

    A model shares the rank of the group above when its interval overlaps the
    interval of that group's first (best) model; without intervals ranks are plain.
    """
    if not records:
        return []
    key = headline_key(records[0]["task"]["kind"])
    ordered = sorted(
        records, key=lambda r: -(r["metrics"].get(key) if r["metrics"].get(key) is not None else -math.inf)
    )
    rows, rank, leader_low = [], 0, None
    for position, record in enumerate(ordered, start=1):
        metrics = record["metrics"]
        high = metrics.get(f"{key}_ci_high")
        if leader_low is None or high is None or high < leader_low:
            rank, leader_low = position, metrics.get(f"{key}_ci_low")
        rows.append({"rank": rank, "record": record, "value": metrics.get(key), "key": key})
    return rows


def print_leaderboard(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 120))
    by_task: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_task.setdefault(record["task"]["id"], []).append(record)
    for task_id, group in sorted(by_task.items()):
        rows = ranked_rows(group)
        key = rows[0]["key"]
        table = Table(title=f"{task_id}  ({group[0]['task']['num_samples']} samples, ranked by {key})")
        for column in (
            "rank",
            "model",
            key,
            "95% CI",
            "f1_macro" if key == "top1" else "",
            "img/s",
            "params (M)",
        ):
            if column:
                table.add_column(column, justify="left" if column == "model" else "right")
        for row in rows:
            m, eff = row["record"]["metrics"], row["record"]["efficiency"]
            cells = [str(row["rank"]), row["record"]["model"]["name"], _fmt(row["value"])]
            cells.append(f"{_fmt(m.get(f'{key}_ci_low'))}-{_fmt(m.get(f'{key}_ci_high'))}")
            if key == "top1":
                cells.append(_fmt(m.get("f1_macro")))
            cells += [_fmt(eff.get("throughput_ips"), 0), _fmt(eff.get("params_m"), 3)]
            table.add_row(*cells)
        console.print(table)


def list_everything(what: str, output: Path) -> None:
    from visionbench.registry import adapter_table, dataset_sources

    if what in ("all", "tasks"):
        print("tasks (kind:source[:path]):")
        for kind, sources in dataset_sources().items():
            for source, help_text in sources:
                print(f"  {kind}:{source:16s} {help_text}")
    if what in ("all", "adapters"):
        print("adapters (family:target; family x task kind, and where each comes from):")
        for family, kind, origin in adapter_table():
            print(f"  {family:12s} {kind:15s} {origin}")
    if what in ("all", "zoo"):
        from visionbench.zoo.catalog import ZOO

        print("zoo models (zoo:NAME):")
        for name, entry in ZOO.items():
            print(f"  {name:18s} {entry.kind:15s} {entry.dataset:14s} {entry.description}")
    if what in ("all", "runs"):
        from visionbench.harness.record import iter_records

        skipped: list[tuple[Path, str]] = []
        records = iter_records(output, skipped)
        print(f"recorded runs under {output}: {len(records)}")
        for path, record in records:
            print(f"  {headline_line(record)}  [{path.parent}]")
        if skipped:
            print(f"skipped {len(skipped)} unreadable record(s):")
            for path, reason in skipped:
                print(f"  {path}: {' '.join(reason.split())}")

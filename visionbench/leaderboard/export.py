"""``visionbench leaderboard --export DIR``: the leaderboard as a self-contained static HTML site.

Overview (tasks found, each task's ranked table and an inline SVG chart of its scores with their
intervals), one page per model (card, tasks, each run's trust-check findings, gallery pictures
embedded as data URIs) and one
compare page per model and its default partner. No script, no stylesheet or font from elsewhere:
the site opens from disk with the network off. It reads the same summary and formats numbers
with the same functions as the dashboard (``data.load_summary``, ``fmt``).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from visionbench.leaderboard import fmt
from visionbench.leaderboard.data import Source, latest_per_config, load_summary

STYLE = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1360px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}nav a{margin-right:14px}.gallery img{margin:4px;border:1px solid #ccc}
.gallery figure{display:inline-block;margin:4px;vertical-align:top;font-size:12px;max-width:420px}"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def slug(text: str) -> str:
    from visionbench.harness.record import slug as record_slug

    return record_slug(text)


def page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head><body><nav><a href='index.html'>Overview</a></nav>"
        f"<h1>{esc(title)}</h1>{body}</body></html>"
    )


def table_html(rows: list[dict[str, Any]], *, cls: str = "", links: dict[str, str] | None = None) -> str:
    """A table of text cells; ``links`` maps a cell text of the first matching column to an href."""
    if not rows:
        return "<p>None.</p>"
    heads = list(rows[0])
    out = [f"<table class='{esc(cls)}'><tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>"]
    for row in rows:
        cells = []
        for head in heads:
            text = esc(row[head])
            href = (links or {}).get(f"{head}|{row[head]}")
            cells.append(f"<td><a href='{esc(href)}'>{text}</a></td>" if href else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(out) + "</table>"


def score_svg(runs: Any, key: str, kind: str) -> str:
    """Each run's headline as a dot with its 95% interval as a whisker, on a shared axis (inline SVG)."""
    points = [
        (str(r["model_name"]), fmt.number(r["headline"]), fmt.number(r["headline_ci_low"]), fmt.number(r["headline_ci_high"]))
        for _, r in runs.iterrows()
        if fmt.number(r["headline"]) is not None
    ]  # fmt: skip
    if not points:
        return ""
    values = [v for _, h, lo, hi in points for v in (h, lo, hi) if v is not None]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    low, high = low - 0.05 * span, high + 0.05 * span
    width, left, row_h = 900, 260, 22
    height = row_h * len(points) + 40

    def x(v: float) -> float:
        return left + (v - low) / (high - low) * (width - left - 20)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"aria-label='{esc(fmt.label(key, kind))} by model'>"]  # fmt: skip
    for i, (name, value, lo, hi) in enumerate(points):
        y = 20 + i * row_h
        parts.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end' font-size='12'>{esc(name)}</text>")
        if lo is not None and hi is not None:
            parts.append(
                f"<line x1='{x(lo):.1f}' x2='{x(hi):.1f}' y1='{y}' y2='{y}' stroke='#1f77b4' stroke-width='3'/>"
            )
        parts.append(f"<circle cx='{x(value):.1f}' cy='{y}' r='5' fill='#d62728'><title>{esc(name)}: "
                     f"{esc(fmt.interval(value, lo, hi))}</title></circle>")  # fmt: skip
    axis_y = height - 12
    parts.append(f"<text x='{left}' y='{axis_y}' font-size='11'>{low:.3f}</text>")
    parts.append(f"<text x='{width - 20}' y='{axis_y}' font-size='11' text-anchor='end'>{high:.3f}</text>")
    parts.append(f"<text x='{(left + width) / 2:.0f}' y='{axis_y}' font-size='11' text-anchor='middle'>"
                 f"{esc(fmt.label(key, kind))} ({esc(fmt.direction(key, kind))})</text></svg>")  # fmt: skip
    return "".join(parts)


def _ranked_rows(runs: Any, key: str, kind: str) -> list[dict[str, Any]]:
    from visionbench.leaderboard.views.overview import ranked_table

    table = ranked_table(runs)
    ranks = fmt.shared_ranks(table["rank"])
    head = f"{fmt.label(key, kind)} (95% CI)"
    return [
        {"Rank": rank, "Model": row["model name"], head: fmt.interval(row[key], row.get(f"{key} CI low"), row.get(f"{key} CI high")),
         "Hardware": row["hardware"], "Precision": row["precision"],
         "Throughput": fmt.efficiency("throughput_ips", row.get("throughput_ips")),
         "Latency p50 (batch)": fmt.efficiency("latency_ms_p50", row.get("latency_ms_p50")),
         "Parameters": fmt.efficiency("params_m", row.get("params_m")), "spec": row["model"]}
        for rank, (_, row) in zip(ranks, table.iterrows(), strict=True)
    ]  # fmt: skip


def overview_page(frame: Any) -> str:
    from visionbench.leaderboard.views.overview import tasks_table

    found = tasks_table(frame)
    body = ["<h2>Tasks found</h2>", table_html(found.astype(str).to_dict("records"), cls="tasks-found")]
    latest = latest_per_config(frame)
    for kind, task in zip(found["kind"], found["task"], strict=True):
        runs = latest[latest["task"] == task]
        key = str(runs["headline_key"].iloc[0]) or "headline"
        rows = _ranked_rows(runs, key, str(kind))
        links = {f"Model|{r['Model']}": f"model-{slug(r['spec'])}.html" for r in rows}
        shown = [{k: v for k, v in r.items() if k != "spec"} for r in rows]
        body += [f"<h2 id='{esc(slug(task))}'>{esc(task)}</h2>",
                 f"<p>Ranked by {esc(fmt.label(key, str(kind)))} ({esc(fmt.direction(key, str(kind)))}); "
                 "a rank written =1 is shared. Latency is per batch.</p>",
                 table_html(shown, cls=f"task-{slug(task)}", links=links), score_svg(runs, key, str(kind))]  # fmt: skip
    return page("Leaderboard", "".join(body))


def _gallery_html(source: Source, row: Any) -> str:
    from visionbench.leaderboard import artifacts

    record = artifacts.load_record(source, row.to_dict())
    name = ((record or {}).get("artifacts") or {}).get("gallery_parquet")
    path = artifacts.run_file(source, row.to_dict(), name) if name else None
    if path is None:
        return ""
    import pandas as pd

    gallery = pd.read_parquet(path)
    figures = []
    for _, item in gallery[gallery["group"] == "worst"].iterrows():
        pictures = "".join(
            f"<img alt='{esc(panel)}' src='data:image/png;base64,{base64.b64encode(item[panel]).decode()}'>"
            for panel in ("image", "truth", "prediction")
            if panel in item and item[panel] is not None
        )
        caption = f"{item['sample_id']} · {fmt.sample_score(str(item['score_name']))} {fmt.metric(item['score'], 3)} · {fmt.text(item['caption'])}"
        figures.append(f"<figure>{pictures}<figcaption>{esc(caption)}</figcaption></figure>")
    return f"<h3>Worst samples: {esc(row['task'])}</h3><div class='gallery'>{''.join(figures)}</div>"


def model_page(source: Source, frame: Any, model: str, partner: str | None) -> str:
    from visionbench.leaderboard import artifacts
    from visionbench.leaderboard.views.card import model_card

    runs = latest_per_config(frame[frame["model"] == model])
    first = runs.iloc[0]
    card = model_card(
        first, artifacts.load_record(source, first.to_dict()), tasks=runs["task"].nunique(), runs=len(runs)
    )
    tasks = [
        {"task": r["task"], "hardware": r["hardware"], "precision": r["precision"],
         "metric": fmt.label(str(r["headline_key"]), str(r["kind"])),
         "value [95% CI]": fmt.interval(r["headline"], r["headline_ci_low"], r["headline_ci_high"]),
         "throughput": fmt.efficiency("throughput_ips", r["throughput_ips"])}
        for _, r in runs.iterrows()
    ]  # fmt: skip
    body = [table_html([{"field": k, "value": v} for k, v in card.items()], cls="card"), "<h2>Tasks</h2>",
            table_html(tasks, cls="model-tasks")]  # fmt: skip
    if partner:
        body.append(
            f"<p><a href='compare-{esc(slug(model))}--{esc(slug(partner))}.html'>Compare with {esc(partner)}</a></p>"
        )
    body += [_checks_html(source, r) for _, r in runs.iterrows()]
    body += [_gallery_html(source, r) for _, r in runs.drop_duplicates("task").iterrows()]
    return page(str(first["model_name"]), "".join(body))


def _checks_html(source: Source, row: Any) -> str:
    """The run's trust checks as the dashboard's details show them: the summary line, then the findings."""
    from visionbench.leaderboard import artifacts
    from visionbench.leaderboard.views.card import check_rows, checks_summary

    record = artifacts.load_record(source, row.to_dict())
    if record is None or "checks" not in record:
        return ""
    columns = check_rows(record)
    found = [dict(zip(columns, cells, strict=True)) for cells in zip(*columns.values(), strict=True)]
    title = f"Trust checks: {row['task']} ({row['hardware']}, {row['precision']})"
    listing = (
        table_html(found, cls="checks")
        if found
        else "<p>No findings: the checks saw nothing wrong with this run.</p>"
    )
    return f"<h3>{esc(title)}</h3><p>{esc(checks_summary(record))}</p>{listing}"


def compare_page(frame: Any, a: str, b: str) -> str:
    from visionbench.leaderboard.analysis import pair_runs

    rows = []
    for task, run_a, run_b, _ in pair_runs(frame, a, b):
        kind, key = str(run_a["kind"]), str(run_a["headline_key"])
        diff = (fmt.number(run_b["headline"]) or 0.0) - (fmt.number(run_a["headline"]) or 0.0)
        rows.append({"task": task, "metric": fmt.label(key, kind),
                     "A": fmt.interval(run_a["headline"], run_a["headline_ci_low"], run_a["headline_ci_high"]),
                     "B": fmt.interval(run_b["headline"], run_b["headline_ci_low"], run_b["headline_ci_high"]),
                     "B - A": fmt.metric(diff)})  # fmt: skip
    return page(f"{a} vs {b}", f"<p>A: {esc(a)}, B: {esc(b)}</p>" + table_html(rows, cls="compare"))


def export_site(source: Source, directory: Path) -> list[Path]:
    """Write the site into ``directory`` (created); returns the pages written."""
    import logging

    logging.getLogger("streamlit").setLevel(
        logging.ERROR
    )  # the shared view helpers run without a server here
    from visionbench.leaderboard.views.common import partner_for

    frame = load_summary(source)
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def write(name: str, text: str) -> None:
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)

    write("index.html", overview_page(frame))
    for model in sorted(set(frame["model"])):
        partner = partner_for(frame, model)
        write(f"model-{slug(model)}.html", model_page(source, frame, model, partner))
        if partner:
            write(f"compare-{slug(model)}--{slug(partner)}.html", compare_page(frame, model, partner))
    return written

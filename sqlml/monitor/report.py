"""`sqlml report`: one self-contained HTML file of the monitoring history.

Sections: status per model and table (each monitor's latest run), the drift table of the latest
drift runs sorted by PSI with reference-vs-current histograms, metrics over time with their
warn/error bands, and the alert and retraining history. Everything is read from the history
tables (`sqlml.monitor.history`); charts are inline SVG drawn by matplotlib, styles are inline,
and nothing is fetched when the page opens.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlml.engine.base import Engine
from sqlml.monitor.charts import histogram_svg, series_svg
from sqlml.monitor.sqltext import quote

RANK = {"error": 4, "failed": 4, "warn": 3, "pass": 2, "skipped": 1}
DRIFT_METRICS = ("psi", "js_distance", "ks", "wasserstein", "linf", "chi2")
MAX_DRIFT_ROWS = 40
MAX_SERIES_COLUMNS = 3
_LEVEL = re.compile(r"(warn|error) (abs >|>=|<=|>|<) (-?[0-9.eE+-]+)")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1d2733;background:#fff}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #dde3ea;padding-bottom:4px}p.meta{color:#5b6b7c;margin:0 0 12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border-bottom:1px solid #e6ebf0;
padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f6f9}td.num{text-align:right;
font-variant-numeric:tabular-nums}.badge{display:inline-block;border-radius:3px;padding:1px 6px;
font-size:12px;font-weight:600;color:#fff}.pass{background:#3c9d5d}.warn{background:#d49b00}
.error,.failed{background:#c0392b}.skipped{background:#8896a5}.charts{display:flex;flex-wrap:wrap;
gap:12px}.chart svg{max-width:520px;height:auto}td svg{width:300px;height:auto}
"""


def write_report(
    engine: Engine, schema: str, path: Path, *, title: str = "sqlml monitoring"
) -> Path:
    """Write the report to ``path`` (folders created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(engine, schema, title=title), encoding="utf-8")
    return path


def render_report(engine: Engine, schema: str, *, title: str = "sqlml monitoring") -> str:
    """The report's HTML text (see the module's documentation)."""
    tables = {name for (s, name) in engine.relations() if s == schema.lower()}
    s = quote(schema)
    results = _rows(engine, f"select * from {s}.monitor_results", "monitor_results" in tables)
    latest = _latest_runs(results)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from '
        f"{_e(schema)}.monitor_results ({len(results)} rows).</p>",
        _status_section(latest),
        _drift_section(engine, s, latest, "monitor_distributions" in tables),
        _series_section(results),
        _alerts_section(engine, s, "monitor_alerts" in tables),
        _retrain_section(engine, s, "retrain_events" in tables),
        "</body></html>",
    ]
    return "\n".join(parts)


def _status_section(latest: dict[str, list[dict[str, Any]]]) -> str:
    out = ['<h2 id="status">Status per model and table</h2>']
    if not latest:
        return out[0] + "<p>No monitor has run yet: run <code>sqlml monitor</code>.</p>"
    by_entity: dict[str, list[tuple[str, list[dict[str, Any]]]]] = defaultdict(list)
    for monitor, rows in latest.items():
        first = rows[0]
        entity = (
            f"model {first['model']}"
            if first["model"]
            else f"table {first['relation']}"
            if first["relation"]
            else "custom query"  # a custom monitor's SQL may read any tables
        )
        by_entity[entity].append((monitor, rows))
    out.append(
        _header("model / table", "monitor", "type", "version", "status", "flagged", "last run")
    )
    for entity in sorted(by_entity):
        for monitor, rows in sorted(by_entity[entity]):
            status = _worst(r["status"] for r in rows)
            flagged = list(
                dict.fromkeys(
                    f"{r['metric']}{'[' + r['column_name'] + ']' if r['column_name'] else ''}"
                    for r in rows
                    if r["status"] in ("warn", "error", "failed")
                )
            )
            shown = ", ".join(flagged[:6]) + (f" (+{len(flagged) - 6})" if len(flagged) > 6 else "")
            out.append(
                f"<tr><td>{_e(entity)}</td><td>{_e(monitor)}</td><td>{_e(rows[0]['monitor_type'])}"
                f"</td><td>{_e(rows[0]['version'])}</td><td>{_badge(status)}</td>"
                f"<td>{_e(shown)}</td><td>{_e(_time(rows[0]['computed_at']))}</td></tr>"
            )
    out.append("</table>")
    return "\n".join(out)


def _drift_section(
    engine: Engine, s: str, latest: dict[str, list[dict[str, Any]]], has_bins: bool
) -> str:
    out = ['<h2 id="drift">Drift, latest run, by PSI</h2>']
    rows: list[dict[str, Any]] = []
    for monitor, results in latest.items():
        if results[0]["monitor_type"] not in ("drift", "prediction_drift"):
            continue
        by_column: dict[str, dict[str, Any]] = {}
        for r in results:
            if r["column_name"] is None or r["metric"] not in DRIFT_METRICS:
                continue
            entry = by_column.setdefault(
                r["column_name"],
                {"monitor": monitor, "column": r["column_name"], "run_id": r["run_id"],
                 "model": r["model"], "status": "pass", "n": r["n_rows"]},
            )  # fmt: skip
            entry[r["metric"]] = r["value"]
            entry["status"] = _worst([entry["status"], r["status"]])
        rows += by_column.values()
    if not rows:
        return out[0] + "<p>No drift monitor has run yet.</p>"
    rows.sort(key=lambda r: (-(r.get("psi") or 0.0), r["column"]))
    out.append(
        _header("monitor", "column", "status", *DRIFT_METRICS, "rows", "reference vs current")
    )
    for row in rows[:MAX_DRIFT_ROWS]:
        chart = _histogram(engine, s, row) if has_bins else ""
        values = "".join(f'<td class="num">{_num(row.get(m))}</td>' for m in DRIFT_METRICS)
        out.append(
            f"<tr><td>{_e(row['monitor'])}</td><td>{_e(row['column'])}</td>"
            f'<td>{_badge(row["status"])}</td>{values}<td class="num">{_e(row["n"])}</td>'
            f"<td>{chart}</td></tr>"
        )
    out.append("</table>")
    if len(rows) > MAX_DRIFT_ROWS:
        out.append(f"<p>{len(rows) - MAX_DRIFT_ROWS} more columns in monitor_results.</p>")
    return "\n".join(out)


def _histogram(engine: Engine, s: str, row: dict[str, Any]) -> str:
    bins = engine.execute(
        f"select label, ref_share, cur_share from {s}.monitor_distributions "
        "where run_id = ? and monitor = ? and column_name = ? order by bin",
        [row["run_id"], row["monitor"], row["column"]],
    )
    # Empty NULL/out-of-range bins on both sides say nothing: leave them out of the chart.
    bins = [b for b in bins if b[1] or b[2]]
    if not bins:
        return ""
    return histogram_svg([b[0] for b in bins], [b[1] for b in bins], [b[2] for b in bins])


def _series_section(results: Sequence[dict[str, Any]]) -> str:
    out = ['<h2 id="history">Metrics over time</h2>']
    series: dict[tuple[str, str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r["value"] is None:
            continue
        series[(r["monitor"], r["metric"], r["column_name"])].append(r)
    charts = []
    for (monitor, metric, column), points in sorted(series.items(), key=_series_order):
        if not _worth_charting(monitor, metric, column, points, series):
            continue
        when = "window_end" if points[0]["monitor_type"] == "performance" else "computed_at"
        if when == "window_end":  # the latest run holds every window
            newest = max(p["computed_at"] for p in points)
            points = [p for p in points if p["computed_at"] == newest]
        points.sort(key=lambda p: p[when] or p["computed_at"])
        warn, error = _levels(points[-1]["threshold"])
        name = f"{monitor}: {metric}" + (f" [{column}]" if column else "")
        svg = series_svg(
            name, [(p[when] or p["computed_at"], p["value"], p["status"]) for p in points],
            warn, error,
        )  # fmt: skip
        charts.append(f'<div class="chart">{svg}</div>')
    if not charts:
        return out[0] + "<p>Not enough history to chart yet.</p>"
    return "\n".join([*out, '<div class="charts">', *charts, "</div>"])


def _worth_charting(
    monitor: str,
    metric: str,
    column: str | None,
    points: list[dict[str, Any]],
    series: dict[tuple[str, str, str | None], list[dict[str, Any]]],
) -> bool:
    kind = points[0]["monitor_type"]
    if kind in ("volume", "freshness", "custom", "performance"):
        return metric != "monitor_failed"
    if kind in ("drift", "prediction_drift") and metric == "psi" and column is not None:
        # The columns whose PSI is highest in the newest run.
        newest = {
            c: max(ps, key=lambda p: p["computed_at"])["value"]
            for (m, name, c), ps in series.items()
            if m == monitor and name == "psi" and c is not None
        }
        top = sorted(newest, key=lambda c: -(newest[c] or 0.0))[:MAX_SERIES_COLUMNS]
        return column in top
    return False


def _alerts_section(engine: Engine, s: str, exists: bool) -> str:
    out = ['<h2 id="alerts">Alerts</h2>']
    rows = _rows(
        engine,
        f"select created_at, monitor, model, version, owner, severity, message, webhook_status "
        f"from {s}.monitor_alerts order by created_at desc limit 100",
        exists,
    )
    if not rows:
        return out[0] + "<p>No alerts.</p>"
    out.append(_header("when", "monitor", "model", "owner", "severity", "message", "webhook"))
    for r in rows:
        model = f"{r['model']} v{r['version']}" if r["model"] else ""
        out.append(
            f"<tr><td>{_e(_time(r['created_at']))}</td><td>{_e(r['monitor'])}</td>"
            f"<td>{_e(model)}</td><td>{_e(r['owner'])}</td><td>{_badge(r['severity'])}</td>"
            f"<td>{_e(r['message'])}</td><td>{_e(r['webhook_status'] or 'none set')}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _retrain_section(engine: Engine, s: str, exists: bool) -> str:
    out = ['<h2 id="retraining">Retraining</h2>']
    rows = _rows(
        engine,
        f"select requested_at, model, monitor, decision, version_before, version_after, "
        f"promoted, reason from {s}.retrain_events order by requested_at desc limit 100",
        exists,
    )
    if not rows:
        return out[0] + "<p>No retraining was asked for.</p>"
    out.append(
        _header(
            "when", "model", "monitor", "decision", "version before", "version after",
            "promoted", "why",
        )
    )  # fmt: skip
    for r in rows:
        promoted = "" if r["promoted"] is None else ("yes" if r["promoted"] else "no")
        out.append(
            f"<tr><td>{_e(_time(r['requested_at']))}</td><td>{_e(r['model'])}</td>"
            f"<td>{_e(r['monitor'])}</td><td>{_e(r['decision'])}</td>"
            f"<td>{_e(r['version_before'])}</td><td>{_e(r['version_after'])}</td>"
            f"<td>{promoted}</td><td>{_e(r['reason'])}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _latest_runs(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each monitor's rows from its newest run."""
    newest: dict[str, tuple[Any, str]] = {}
    for r in results:
        key = (r["computed_at"], r["run_id"])
        if r["monitor"] not in newest or key > newest[r["monitor"]]:
            newest[r["monitor"]] = key
    latest: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if newest[r["monitor"]][1] == r["run_id"]:
            latest[r["monitor"]].append(r)
    return dict(latest)


def _rows(engine: Engine, sql: str, exists: bool) -> list[dict[str, Any]]:
    if not exists:
        return []
    names = [str(r[0]) for r in engine.execute(f"describe {sql}")]
    return [dict(zip(names, row, strict=True)) for row in engine.execute(sql)]


def _series_order(item: tuple[tuple[str, str, str | None], Any]) -> tuple[str, str, str]:
    (monitor, metric, column), _ = item
    return monitor, metric, column or ""


def _levels(text: str | None) -> tuple[tuple[str, float] | None, tuple[str, float] | None]:
    found = {level: (op, float(value)) for level, op, value in _LEVEL.findall(text or "")}
    return found.get("warn"), found.get("error")


def _header(*names: str) -> str:
    return "<table><tr>" + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr>"


def _worst(statuses: Any) -> str:
    return max(statuses, key=lambda s: RANK.get(s, 0), default="skipped")


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _time(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if isinstance(value, datetime) else str(value or "")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))

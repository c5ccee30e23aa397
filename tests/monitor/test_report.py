"""The HTML report: built from the history tables, rendered in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sqlml.monitor.report import write_report
from sqlml.monitor.run import run_monitor

from .test_run import DRIFT, S, env, monitor
from .test_run import engine as engine  # the fixture

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Open ``page`` in a headless Chromium with a fresh profile folder."""
    binary = chromium()
    assert binary is not None
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def history(engine, tmp_path: Path) -> None:
    """A normal day, then a shifted day, for drift and volume monitors."""
    volume = {"type": "volume", "relation": "ref('features')", "timestamp": "day"}
    run_monitor(env(engine, "run1"), monitor(tmp_path, DRIFT))
    run_monitor(env(engine, "run1"), monitor(tmp_path, volume))
    engine.execute(
        "insert into features select date '2025-01-31', 500 + i, "
        "case when i % 3 = 0 then 'b' else 'a' end, 0, 0.9 from range(300) t(i)"
    )
    run_monitor(env(engine, "run2"), monitor(tmp_path, DRIFT))
    run_monitor(env(engine, "run2"), monitor(tmp_path, volume))


def test_report_sections_from_history(engine, tmp_path):
    history(engine, tmp_path)
    page = write_report(engine, S, tmp_path / "out" / "report.html")
    text = page.read_text()
    for anchor in ("status", "drift", "history", "alerts", "retraining"):
        assert f'id="{anchor}"' in text
    # Self-contained: no script, stylesheet or image is fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text)
    assert "<script" not in text
    drift = text[text.index('id="drift"') : text.index('id="history"')]
    # Sorted by PSI: the shifted numeric column comes before the unchanged categorical one.
    assert drift.index(">tenure<") < drift.index(">plan<")
    assert drift.count("<svg") == 2  # one histogram per column
    assert "requested" in text[text.index('id="retraining"') :]


def test_an_empty_history_still_makes_a_page(tmp_path):
    from sqlml.engine.duckdb import DuckDBEngine

    engine = DuckDBEngine(tmp_path / "empty.duckdb")
    text = write_report(engine, S, tmp_path / "r.html").read_text()
    engine.close()
    assert "No monitor has run yet" in text


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="needs chromium (Debian package; see .ci/run)")
def test_the_report_renders_offline_in_headless_chromium(engine, tmp_path):
    history(engine, tmp_path)
    page = write_report(engine, S, tmp_path / "report.html")
    dom = render(page, tmp_path / "chromium-profile", "--dump-dom").stdout
    assert "<h1>sqlml monitoring</h1>" in dom
    assert dom.count("<svg") >= 4  # histograms and time series, drawn inline
    status = dom[dom.index('id="status"') : dom.index('id="drift"')]
    assert re.search(r'class="badge error">error<', status)
    shot = tmp_path / "shot.png"
    render(page, tmp_path / "chromium-profile-2", f"--screenshot={shot}", "--window-size=1200,900")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_sqlml_report_writes_the_page(tmp_path):
    from click.testing import CliRunner

    from sqlml.cli.main import cli
    from sqlml.engine.duckdb import DuckDBEngine
    from tests.projectfactory import MINIMAL_PROJECT, write_project

    from .test_run import setup_features

    root = write_project(tmp_path / "p", {"project.yml": MINIMAL_PROJECT})
    runner = CliRunner()
    missing = runner.invoke(cli, ["report", "--project-dir", str(root)])
    assert missing.exit_code == 2
    assert "no warehouse at warehouse.duckdb yet" in missing.output
    engine = DuckDBEngine(root / "warehouse.duckdb")
    setup_features(engine)
    history(engine, tmp_path)
    engine.close()
    result = runner.invoke(
        cli, ["report", "--project-dir", str(root), "-o", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote the monitoring report to {tmp_path / 'r.html'}" in result.output
    assert "<title>demo: monitoring</title>" in (tmp_path / "r.html").read_text()

"""Printing the model registry: `sqlml models list` and `sqlml models show`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from sqlml.ml.registry import ModelDetail, ModelSummary, ModelVersion


def print_models(models: list[ModelSummary], output: str) -> None:
    """One line per model (or a JSON list)."""
    if output == "json":
        click.echo(json.dumps([asdict(m) for m in models], indent=2, default=str))
        return
    if not models:
        click.echo("No model is registered yet: `sqlml run` trains the models in ml/.")
        return
    width = max(len(m.model) for m in models)
    for m in models:
        aliases = ", ".join(f"{a}: v{v}" for a, v in sorted(m.aliases.items())) or "no alias"
        click.echo(
            f"{m.model:<{width}}  owner {m.owner}  {m.versions} version(s), latest v"
            f"{m.latest_version} at {m.latest_at:%Y-%m-%d %H:%M:%S} UTC  ({aliases})"
        )


def print_model(detail: ModelDetail, output: str) -> None:
    """Every version of a model with its figures, then the alias history."""
    if output == "json":
        click.echo(json.dumps(asdict(detail), indent=2, default=str))
        return
    aliases = ", ".join(f"{a}: v{v}" for a, v in sorted(detail.aliases.items())) or "none"
    click.echo(f"Model {detail.model}  (aliases: {aliases})")
    for version in detail.versions:
        click.echo(_version(version, detail))
    if detail.history:
        click.echo("Alias history:")
        for change in detail.history:
            before = f" (from v{change.previous_version})" if change.previous_version else ""
            click.echo(
                f"  {change.set_at:%Y-%m-%d %H:%M:%S}  {change.alias} -> v{change.version}"
                f"{before}  {change.action}: {change.reason or ''}"
            )


def _version(v: ModelVersion, detail: ModelDetail) -> str:
    marks = [a for a, n in sorted(detail.aliases.items()) if n == v.version]
    lines = [
        f"  v{v.version}{' [' + ', '.join(marks) + ']' if marks else ''}  "
        f"{v.created_at:%Y-%m-%d %H:%M:%S} UTC  owner {v.owner}  run {v.run_id or '-'}",
        f"      holdout: {_figures(v.metrics)}",
    ]
    if v.cv_metrics:
        cv = {k: f"{d['mean']:.4g} ± {d['std']:.2g}" for k, d in v.cv_metrics.items()}
        lines.append("      cv: " + ", ".join(f"{k} {s}" for k, s in cv.items()))
    if v.parity:
        p = v.parity
        lines.append(
            f"      onnx: {v.onnx_bytes:,} bytes, sha256 {v.onnx_sha256[:12]}…, "
            f"{p.get('precision')}, max diff {p.get('max_abs_diff', 0):.2g} on "
            f"{p.get('rows')} rows"
            + (f", {p.get('flipped_rows', 0)} flipped" if v.signature.get("classes") else "")
        )
    top = sorted(v.importance.items(), key=lambda kv: -_mean(kv[1]))[:5]
    if top:
        lines.append("      importance: " + ", ".join(f"{name} {_mean(d):.3g}" for name, d in top))
    lines.append(
        f"      fingerprints: spec {(v.spec_fingerprint or '')[:12]}…, "
        f"data {(v.data_fingerprint or '')[:12]}…"
    )
    return "\n".join(lines)


def _figures(metrics: dict[str, Any] | Any) -> str:
    return ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
    )


def _mean(value: Any) -> float:
    return float(value.get("mean", 0.0)) if isinstance(value, dict) else 0.0

"""What a failing monitor sets in motion: an alert to the owner's webhook, a retraining.

The webhook receives an HTTP POST of JSON (``Content-Type: application/json``)::

    {"event": "sqlml.monitor.alert", "alert_id": "...", "run_id": "...",
     "monitor": "churn_feature_drift", "type": "drift", "severity": "error",
     "model": "churn", "version": 3, "owner": "growth-team@shop.example",
     "relation": "churn_features", "message": "...",
     "metrics": [{"metric": "psi", "column": "tenure_days", "value": 0.41,
                  "threshold": "warn > 0.1, error > 0.25", "status": "error"}, ...]}

A retraining is requested when a monitor with ``on_failure: [retrain]`` errors, unless the model
was retrained (or asked to be) within the monitor's ``cooldown_hours``.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

WEBHOOK_TIMEOUT_S = 10.0
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def webhook_target(url: str) -> tuple[str | None, str | None]:
    """``url`` with each ``${VAR}`` read from the environment: ``(target, None)``, or
    ``(None, why)`` when a variable it names is unset or empty, so a project can name its
    webhook in an environment variable and run without one (the alert is then only recorded).
    """
    unset = [name for name in _VARIABLE.findall(url) if not os.environ.get(name)]
    if unset:
        return None, f"not sent: {', '.join(dict.fromkeys(unset))} not set"
    return _VARIABLE.sub(lambda m: os.environ[m.group(1)], url).strip(), None


def post_webhook(url: str, payload: dict[str, Any], *, timeout: float = WEBHOOK_TIMEOUT_S) -> str:
    """POST ``payload`` as JSON to ``url`` (``${VAR}`` in it read from the environment).

    Returns what happened, for the alerts table: ``"200"`` (the HTTP status), ``"error: ..."``,
    or ``"not sent: VAR not set"`` (see `webhook_target`). Never raises: an unreachable webhook
    must not stop the run or lose the recorded alert.
    """
    target, why = webhook_target(url)
    if target is None:
        return why or "not sent"
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        target,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "sqlml-monitor"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.status)
    except urllib.error.HTTPError as exc:
        return f"error: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"error: {reason}"


def in_cooldown(last: datetime | None, hours: float, now: datetime | None = None) -> bool:
    """Whether a retraining at ``last`` is recent enough to hold back another one."""
    if last is None:
        return False
    now = now or datetime.now(UTC)
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return now - last < timedelta(hours=hours)

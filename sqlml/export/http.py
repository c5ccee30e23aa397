"""POSTing JSON batches with retries, exponential backoff and an idempotency key.

Each batch is sent as the same bytes with the same ``Idempotency-Key`` header on every attempt,
so a receiver that saw an attempt whose answer got lost (a timeout, a dropped connection) can
recognise the retry and not apply it twice. Server errors (5xx), 408, 429, timeouts and
connection failures are retried; other 4xx answers mean the request itself is wrong and fail
at once.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from sqlml.errors import ExecutionError
from sqlml.export.spec import HttpTarget

_RETRYABLE = {408, 425, 429}


def post_batch(
    target: HttpTarget,
    body: bytes,
    idempotency_key: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST one batch until it is accepted (2xx); return the number of attempts it took.

    Raises ExecutionError naming the endpoint, the attempts and the last failure.
    """
    url = os.path.expandvars(target.url)
    headers = {k: os.path.expandvars(v) for k, v in target.headers.items()}
    headers.update(
        {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "User-Agent": "sqlml-export",
        }
    )
    attempts = target.retries + 1
    last = ""
    for attempt in range(attempts):
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        retry_after = None
        try:
            with urllib.request.urlopen(request, timeout=target.timeout_s) as response:
                response.read()
                return attempt + 1
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.reason}"
            if 400 <= exc.code < 500 and exc.code not in _RETRYABLE:
                raise ExecutionError(
                    f"{shown(url)} refused a batch: {last}",
                    hint="the endpoint rejects the request itself (not a passing failure): "
                    "check the url, the headers and what the endpoint expects",
                ) from None
            retry_after = _seconds(exc.headers.get("Retry-After"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc)) or type(exc).__name__
        if attempt + 1 < attempts:
            pause = min(target.backoff_s * 2**attempt, target.max_backoff_s)
            sleep(max(pause, min(retry_after or 0.0, target.max_backoff_s)))
    raise ExecutionError(
        f"{shown(url)} did not accept a batch after {attempts} attempts; last: {last}",
        hint="the rows not delivered are sent by the next run; raise retries or backoff_s "
        "to ride out longer outages",
    )


def shown(url: str) -> str:
    """The URL as messages show it: without credentials or query string."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None

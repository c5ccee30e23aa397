"""Exports POSTed to a real HTTP receiver on loopback that fails for a while, or for good."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlml import Context
from tests.export.helpers import ROWS, Receiver, receiving, scores_csv, shop
from tests.runner.helpers import query


def http_export(url: str, *, retries: int = 8, batch_size: int = 3) -> str:
    return f"""\
        relation: ref('scores')
        mode: changed
        key: customer_id
        to:
          http:
            url: {url}
            headers: {{X-Source: sqlml}}
            batch_size: {batch_size}
            retries: {retries}
            backoff_s: 0.01
            max_backoff_s: 0.05
            timeout_s: 0.4
        """


def as_rows(rows: list[tuple[int, float, str]]) -> list[dict[str, object]]:
    return [{"customer_id": i, "risk": r, "name": n} for i, r, n in rows]


def by_id(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda r: int(r["customer_id"]))  # type: ignore[call-overload]


@pytest.mark.slow
def test_a_flaky_endpoint_gets_every_row_once_then_only_changes(tmp_path: Path) -> None:
    receiver = Receiver(["slow", 503, 503, 500, "ok", "slow", 502])
    with receiving(receiver) as url:
        root = shop(tmp_path, http_export(url))
        first = Context(root).run()
        assert first.success, [r.message for r in first.results]
        assert by_id(receiver.rows) == as_rows(ROWS)  # every row, none twice
        assert receiver.duplicates == 2  # the two slow answers were retried, and recognised
        assert len(receiver.batches) == 4  # 10 rows in batches of 3

        requests = receiver.requests
        assert Context(root).run().success
        assert receiver.requests == requests  # nothing changed: nothing sent

        changed = [*ROWS[:2], (3, 0.99, "c3 moved"), *ROWS[3:9], (10, 1.0, "c10"), (11, 0.5, "new")]
        (root / "data" / "scores.csv").write_text(scores_csv(changed))
        assert Context(root).run().success

    latest = receiver.batches[list(receiver.batches)[-1]]
    assert by_id(latest) == as_rows([(3, 0.99, "c3 moved"), (11, 0.5, "new")])
    assert {h["X-Source"] for h in receiver.headers} == {"sqlml"}
    result = next(r for r in first.results if r.node == "risky")
    assert result.message == f"10 rows in 4 batch(es) to {url}"
    assert query(root, "select sum(rows), count(*) from _sqlml.export_deliveries")[0] == (12, 5)


def test_a_dead_endpoint_fails_the_export_alone_and_nothing_is_recorded(tmp_path: Path) -> None:
    receiver = Receiver(always=503)
    with receiving(receiver) as url:
        root = shop(tmp_path, http_export(url, retries=2))
        result = Context(root).run()

    assert not result.success
    status = {r.node: r.status for r in result.results}
    assert status == {"scores": "success", "other": "success", "risky": "error"}
    risky = next(r for r in result.results if r.node == "risky")
    assert risky.message is not None
    assert risky.message.startswith(
        f"exports/risky.yml: export 'risky' failed: {url} did not accept a batch after 3 "
        "attempts; last: HTTP 503 Service Unavailable (batch 1 of 4; 0 rows delivered before it)"
    )
    assert receiver.requests == 3
    assert query(root, "select count(*) from _sqlml.export_rows") == [(0,)]

    # Once the endpoint is back, the next run delivers everything.
    healthy = Receiver()
    with receiving(healthy) as url:
        shop(tmp_path, http_export(url, retries=2))
        assert Context(root).run().success
    assert by_id(healthy.rows) == as_rows(ROWS)


def test_an_endpoint_failing_half_way_keeps_what_it_accepted(tmp_path: Path) -> None:
    receiver = Receiver(["ok", "ok"], always=500)
    with receiving(receiver) as url:
        root = shop(tmp_path, http_export(url, retries=1))
        assert not Context(root).run().success
    assert len(receiver.rows) == 6

    healthy = Receiver()
    with receiving(healthy) as url:
        shop(tmp_path, http_export(url, retries=1))
        assert Context(root).run().success
    assert by_id(receiver.rows + healthy.rows) == as_rows(ROWS)  # the rest, and only the rest


def test_a_client_error_fails_at_once(tmp_path: Path) -> None:
    receiver = Receiver(always=400)
    with receiving(receiver) as url:
        root = shop(tmp_path, http_export(url))
        result = Context(root).run()

    risky = next(r for r in result.results if r.node == "risky")
    assert risky.status == "error"
    assert f"{url} refused a batch: HTTP 400 Bad Request" in (risky.message or "")
    assert receiver.requests == 1

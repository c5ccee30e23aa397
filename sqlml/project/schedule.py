"""Node schedules: a five-field cron expression or an alias, read in UTC.

A schedule's *ticks* are the instants its expression matches: ``@daily`` ticks at every
midnight UTC, ``*/15 * * * *`` every quarter hour. A node is due when a tick has passed since
its last successful build (see `sqlml.plan.due`).

>>> from datetime import datetime, UTC
>>> next_tick("@daily", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)).isoformat()
'2026-03-02T00:00:00+00:00'
>>> schedule_problem("0 25 * * *")
"invalid cron expression '0 25 * * *': [0 25 * * *] is not acceptable, out of range"
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlml.errors import did_you_mean

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}

HINT = (
    "write five fields, minute hour day-of-month month day-of-week, in UTC: e.g. "
    "'0 6 * * *' (06:00 every day) or '*/15 * * * *' (every 15 minutes); "
    "or use " + ", ".join(ALIASES)
)


def schedule_problem(schedule: str) -> str | None:
    """What is wrong with ``schedule``, or None when it is valid."""
    if schedule.startswith("@"):
        if schedule in ALIASES:
            return None
        guess = did_you_mean(schedule, ALIASES)
        return f"unknown schedule alias '{schedule}'" + (f" ({guess})" if guess else "")
    fields = schedule.split()
    if len(fields) != 5:
        return f"a cron expression has 5 fields, '{schedule}' has {len(fields)}"
    from croniter import CroniterBadDateError, CroniterError, croniter

    try:
        # One tick, so that a date that never comes (e.g. '0 0 31 2 *') is refused too.
        croniter(schedule, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return f"cron expression '{schedule}' never matches a date"
    except CroniterError as exc:
        return f"invalid cron expression '{schedule}': {exc}"
    return None


def ticks_around(schedule: str, now: datetime) -> tuple[datetime, datetime]:
    """The last tick at or before ``now`` and the first tick after it, in UTC.

    >>> from datetime import datetime, UTC
    >>> [t.isoformat() for t in ticks_around("@hourly", datetime(2026, 3, 1, 12, tzinfo=UTC))]
    ['2026-03-01T12:00:00+00:00', '2026-03-01T13:00:00+00:00']
    """
    from croniter import croniter

    upcoming = next_tick(schedule, now)
    latest: datetime = croniter(ALIASES.get(schedule, schedule), upcoming).get_prev(datetime)
    return latest.astimezone(UTC), upcoming


def next_tick(schedule: str, after: datetime) -> datetime:
    """The first tick of ``schedule`` strictly after ``after`` (an aware datetime), in UTC."""
    from croniter import croniter

    tick: datetime = croniter(ALIASES.get(schedule, schedule), after.astimezone(UTC)).get_next(
        datetime
    )
    return tick.astimezone(UTC)

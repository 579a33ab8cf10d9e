"""NCRONTAB parsing and the timer scheduler (run_on_startup, %SETTING% schedules, no overlap)."""

import time
from datetime import UTC, datetime

import pytest

from tools.devhost import DevHost
from tools.devhost.timers import ScheduleError, parse_field, parse_schedule

from .conftest import APPS


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_fields() -> None:
    assert parse_field("*/15", 0) == [0, 15, 30, 45]
    assert parse_field("5-10/2", 1) == [5, 7, 9]
    assert parse_field("1,3,5", 2) == [1, 3, 5]
    assert parse_field("10/20", 0) == [10, 30, 50]
    assert parse_field("JAN,mar,Dec", 4) == [1, 3, 12]
    assert parse_field("MON-FRI", 5) == [1, 2, 3, 4, 5]
    assert parse_field("5-7", 5) == [0, 5, 6]
    assert parse_field("*", 3) == list(range(1, 32))


@pytest.mark.parametrize("bad", ["* * * * *", "60 * * * * *", "* * 24 * * *", "*/0 * * * * *", "5-1 * * * * *", "x"])
def test_rejects_bad_expressions(bad: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(bad)


def test_next_occurrences() -> None:
    every5 = parse_schedule("*/5 * * * * *")
    assert every5.next_after(at("2025-01-01T00:00:03")) == at("2025-01-01T00:00:05")
    assert every5.next_after(at("2025-01-01T00:00:05")) == at("2025-01-01T00:00:10")
    weekdays = parse_schedule("0 30 9 * * Mon-Fri")
    assert weekdays.next_after(at("2025-01-04T12:00:00")) == at("2025-01-06T09:30:00")  # Sat -> Mon
    sunday = parse_schedule("0 0 12 * * 0")
    assert sunday.next_after(at("2025-01-01T00:00:00")) == at("2025-01-05T12:00:00")
    assert parse_schedule("0 0 12 * * 7").next_after(at("2025-01-01T00:00:00")) == at("2025-01-05T12:00:00")
    leap = parse_schedule("0 0 0 29 2 *")
    assert leap.next_after(at("2025-01-01T00:00:00")) == at("2028-02-29T00:00:00")
    hourly = parse_schedule("0 0 */6 * * *")
    assert hourly.next_after(at("2025-01-01T05:59:59")) == at("2025-01-01T06:00:00")
    assert hourly.next_after(at("2025-12-31T23:00:00")) == at("2026-01-01T00:00:00")
    interval = parse_schedule("00:00:30")
    assert interval.next_after(at("2025-01-01T00:00:00")) == at("2025-01-01T00:00:30")


def test_day_of_month_and_day_of_week_both_apply() -> None:
    # NCrontab requires both fields to match: Friday the 13th.
    friday13 = parse_schedule("0 0 0 13 * FRI")
    assert friday13.next_after(at("2025-01-01T00:00:00")) == at("2025-06-13T00:00:00")


def test_scheduler_runs_on_startup_resolves_settings_and_never_overlaps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAST_SCHEDULE", "*/1 * * * * *")
    host = DevHost(APPS / "timers", memory=True, port=0)
    runs = host.module.RUNS
    with host:
        time.sleep(4.6)
    assert runs["startup"] == [False]
    assert 3 <= len(runs["fast"]) <= 6
    assert host.module.ACTIVE["max_slow"] == 1
    assert 1 <= len(runs["slow"]) <= 2
    slow_job = next(job for job in host.scheduler.jobs if job.name == "slow")
    assert slow_job.skipped >= 2

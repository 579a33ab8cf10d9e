"""Timer triggers: NCRONTAB schedules and the scheduler that fires them.

A schedule is a six-field NCRONTAB expression (``second minute hour day month day-of-week``)
or a ``hh:mm:ss`` interval, evaluated in UTC like the Functions host does by default.
Fields take ``*``, numbers, ranges ``a-b``, steps ``*/n`` / ``a-b/n`` / ``a/n``, lists and
month/day names. As in NCrontab, day-of-month and day-of-week must both match. A timer run
never overlaps itself: a tick that comes while the previous run is still going is skipped.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

log = logging.getLogger("devhost.timers")

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (low, high, names, name offset)
_FIELDS: list[tuple[int, int, list[str], int]] = [
    (0, 59, [], 0),
    (0, 59, [], 0),
    (0, 23, [], 0),
    (1, 31, [], 0),
    (1, 12, _MONTHS, 1),
    (0, 6, _DAYS, 0),
]
_FIELD_NAMES = ["second", "minute", "hour", "day", "month", "day-of-week"]


class ScheduleError(ValueError):
    """An expression that is neither NCRONTAB nor a ``hh:mm:ss`` interval."""


def _value(text: str, position: int) -> int:
    low, high, names, offset = _FIELDS[position]
    upper = text.upper()
    if upper in names:
        return names.index(upper) + offset
    if not text.isdigit():
        raise ScheduleError(f"bad {_FIELD_NAMES[position]} value '{text}'")
    number = int(text)
    if position == 5 and number == 7:
        return 7  # Sunday, folded to 0 by parse_field
    if not low <= number <= high:
        raise ScheduleError(f"{_FIELD_NAMES[position]} value {number} is outside {low}-{high}")
    return number


def parse_field(text: str, position: int) -> list[int]:
    """Parse one NCRONTAB field into its sorted values."""
    low, high, _, _ = _FIELDS[position]
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ScheduleError(f"empty item in {_FIELD_NAMES[position]} field '{text}'")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"bad step '{step_text}' in {_FIELD_NAMES[position]} field")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, position), _value(last, position)
            if end < start:
                raise ScheduleError(f"range '{base}' runs backwards")
        else:
            start = _value(base, position)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    if position == 5 and 7 in values:
        values.discard(7)
        values.add(0)
    return sorted(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: either NCRONTAB fields or a fixed interval."""

    expression: str
    seconds: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    interval: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (UTC)."""
        moment = moment.astimezone(UTC)
        if self.interval is not None:
            return moment + self.interval
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day: date = start.date()
        floor = start.time()
        for _ in range(366 * 8):
            if day.month in self.months and day.day in self.days and (day.weekday() + 1) % 7 in self.weekdays:
                found = self._first_time_from(floor)
                if found is not None:
                    return datetime.combine(day, found, tzinfo=UTC)
            day += timedelta(days=1)
            floor = time(0, 0, 0)
        raise ScheduleError(f"schedule '{self.expression}' never fires")

    def _first_time_from(self, floor: time) -> time | None:
        for hour in self.hours:
            if hour < floor.hour:
                continue
            for minute in self.minutes:
                if hour == floor.hour and minute < floor.minute:
                    continue
                for second in self.seconds:
                    if hour == floor.hour and minute == floor.minute and second < floor.second:
                        continue
                    return time(hour, minute, second)
        return None


def parse_schedule(expression: str) -> Schedule:
    """Parse a six-field NCRONTAB expression or a ``[d.]hh:mm:ss`` interval."""
    text = expression.strip()
    interval = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})", text)
    if interval:
        days, hours, minutes, seconds = (int(g or 0) for g in interval.groups())
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if span <= timedelta(0):
            raise ScheduleError(f"interval '{expression}' must be positive")
        return Schedule(expression, interval=span)
    parts = text.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"'{expression}' is not a 6-field NCRONTAB expression "
            "(second minute hour day month day-of-week) nor an hh:mm:ss interval"
        )
    fields = [parse_field(part, index) for index, part in enumerate(parts)]
    return Schedule(
        text,
        seconds=tuple(fields[0]),
        minutes=tuple(fields[1]),
        hours=tuple(fields[2]),
        days=frozenset(fields[3]),
        months=frozenset(fields[4]),
        weekdays=frozenset(fields[5]),
    )


@dataclass
class TimerJob:
    """One timer-triggered function under the scheduler."""

    name: str
    schedule: Schedule
    run_on_startup: bool
    fire: Callable[[bool, datetime], Awaitable[None]]
    running: bool = False
    runs: int = 0
    skipped: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class TimerScheduler:
    """Fires timer jobs on schedule without overlapping runs of the same job."""

    def __init__(self, jobs: list[TimerJob], past_due_after: timedelta = timedelta(seconds=1)) -> None:
        """Schedule ``jobs`` once :meth:`start` is called."""
        self.jobs = jobs
        self.past_due_after = past_due_after
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start one scheduling loop per job on the running event loop."""
        for job in self.jobs:
            job.task = asyncio.get_running_loop().create_task(self._loop(job))

    async def stop(self) -> None:
        """Cancel the loops and wait for running timer functions to finish."""
        loops = [job.task for job in self.jobs if job.task is not None]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _launch(self, job: TimerJob, past_due: bool, due: datetime) -> None:
        if job.running:
            job.skipped += 1
            log.warning("Timer '%s': skipping the tick at %s, the previous run is still going", job.name, due)
            return
        job.running = True
        task = asyncio.get_running_loop().create_task(self._run(job, past_due, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: TimerJob, past_due: bool, due: datetime) -> None:
        try:
            await job.fire(past_due, due)
        except Exception:
            log.exception("Timer '%s' failed", job.name)
        finally:
            job.runs += 1
            job.running = False

    async def _loop(self, job: TimerJob) -> None:
        if job.run_on_startup:
            self._launch(job, False, datetime.now(UTC))
        due = job.schedule.next_after(datetime.now(UTC))
        while True:
            delay = (due - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            now = datetime.now(UTC)
            self._launch(job, now - due > self.past_due_after, due)
            due = job.schedule.next_after(max(now, due))

"""Change control as plain data: when a mutating job may start on a cloud.

A cloud's calendar is its weekly maintenance windows and the change freezes that apply to it. A
mutating job may start at an instant that lies inside some window (or at any instant, when the
cloud has no windows) and inside no freeze. This module imports nothing from Django, so every
rule here is tested with plain values, daylight-saving changes included.

Times of a window are wall-clock times in its own zone: "Saturdays 01:00–05:00 Europe/Berlin"
ends at 05:00 Berlin time even on the night the clocks change, when it lasts three or five hours.
A start time the clocks skip (02:30 on the last Sunday of March in Berlin) is read with the offset
before the change, as ``zoneinfo`` reads it (03:30 summer time); an occurrence whose end then falls
before its start is empty. Intervals are half-open: a window is open at its start, closed at its
end; a freeze holds from its start and is over at its end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_DURATION = timedelta(days=7)
# A window lasts at most 7 days, so an occurrence that holds an instant started at most 8 local
# days before it (a day of slack for the offset).
LOOKBACK_DAYS = 8
# Each step of the search passes a freeze or reaches a window's start: far more than any real
# calendar needs, and a bound so that a pathological one cannot loop.
MAX_SEARCH_STEPS = 10_000


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when there is no such zone."""
    if not isinstance(name, str) or not name or name != name.strip() or name.startswith(("/", ".")):
        raise ValueError(f"unknown time zone {str(name)[:64]!r}; use an IANA name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name[:64]!r}; use an IANA name such as Europe/Berlin") from None


def zone_names() -> list[str]:
    """Every IANA zone name this machine knows, sorted (for choice lists)."""
    return sorted(available_timezones())


@dataclass(frozen=True)
class Window:
    """A weekly window: on each of ``weekdays`` (0 = Monday) from ``start`` for ``duration``."""

    weekdays: frozenset[int]
    start: time
    duration: timedelta
    timezone: str
    label: str = ""
    id: int | None = None

    def describe(self) -> str:
        """For people: "Sat 01:00–05:00 Europe/Berlin (patching)"; a window that ends the next day
        reads "Sat 23:00–03:00", one of a day or more "Fri 22:00 for 2 d 8 h"."""
        days = ",".join(WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        if self.duration < timedelta(days=1):
            end = (datetime.combine(date(2000, 1, 1), self.start) + self.duration).time()
            span = f"{self.start:%H:%M}–{end:%H:%M}"
        else:
            hours, rest = divmod(self.duration.seconds, 3600)
            parts = [
                f"{self.duration.days} d",
                f"{hours} h" if hours else "",
                f"{rest // 60} min" if rest else "",
            ]
            span = f"{self.start:%H:%M} for {' '.join(p for p in parts if p)}"
        label = f" ({self.label})" if self.label else ""
        return f"{days} {span} {self.timezone}{label}"


@dataclass(frozen=True)
class Freeze:
    """A change freeze: nothing mutating starts from ``starts_at`` until ``ends_at`` (aware)."""

    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    timezone: str = "UTC"
    global_: bool = False
    id: int | None = None

    def holds(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def describe(self) -> str:
        """For people: "change freeze until 2026-12-27 00:00 Europe/Berlin: year-end"."""
        tz = zone(self.timezone)
        scope = "global change freeze" if self.global_ else "change freeze"
        reason = f": {self.reason}" if self.reason else ""
        return f"{scope} until {self.ends_at.astimezone(tz):%Y-%m-%d %H:%M} {self.timezone}{reason}"


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a window: it is open from ``start`` until ``end`` (aware, UTC)."""

    window: Window
    start: datetime
    end: datetime

    def describe(self) -> str:
        tz = zone(self.window.timezone)
        return (
            f"{self.window.describe()}, open {self.start.astimezone(tz):%Y-%m-%d %H:%M}"
            f"–{self.end.astimezone(tz):%H:%M %Z}"
        )


@dataclass(frozen=True)
class Calendar:
    """A cloud's windows and the freezes that apply to it (its own and every global one)."""

    windows: Sequence[Window] = ()
    freezes: Sequence[Freeze] = field(default_factory=tuple)

    @property
    def restricted(self) -> bool:
        """Whether anything here ever keeps a job from starting."""
        return bool(self.windows or self.freezes)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    return at.astimezone(UTC)


def _occurrence(window: Window, day: date, tz: ZoneInfo) -> Occurrence:
    wall_start = datetime.combine(day, window.start)
    start = wall_start.replace(tzinfo=tz).astimezone(UTC)
    end = (wall_start + window.duration).replace(tzinfo=tz).astimezone(UTC)
    return Occurrence(window, start, max(start, end))


def occurrences(window: Window, first_day: date, last_day: date) -> Iterator[Occurrence]:
    """The window's occurrences whose local start day lies in ``first_day``..``last_day``, in order."""
    tz = zone(window.timezone)
    day = first_day
    while day <= last_day:
        if day.weekday() in window.weekdays:
            yield _occurrence(window, day, tz)
        day += timedelta(days=1)


def window_at(calendar: Calendar, at: datetime) -> Occurrence | None:
    """The occurrence of a window that holds ``at`` (the one that ends last, if several), else None."""
    at = _aware(at)
    best: Occurrence | None = None
    for window in calendar.windows:
        local_day = at.astimezone(zone(window.timezone)).date()
        for occ in occurrences(window, local_day - timedelta(days=LOOKBACK_DAYS), local_day):
            if occ.start <= at < occ.end and (best is None or occ.end > best.end):
                best = occ
    return best


def freeze_at(calendar: Calendar, at: datetime) -> Freeze | None:
    """The freeze that holds ``at`` (the one that ends last, if several), else None."""
    at = _aware(at)
    holding = [f for f in calendar.freezes if f.holds(at)]
    return max(holding, key=lambda f: f.ends_at) if holding else None


def is_open(calendar: Calendar, at: datetime) -> bool:
    """Whether a mutating job may start at ``at``: inside a window (or no windows) and no freeze."""
    if freeze_at(calendar, at) is not None:
        return False
    return not calendar.windows or window_at(calendar, at) is not None


def _next_start(calendar: Calendar, after: datetime) -> datetime | None:
    """The earliest start of a non-empty window occurrence strictly after ``after``."""
    best: datetime | None = None
    for window in calendar.windows:
        local_day = after.astimezone(zone(window.timezone)).date()
        for occ in occurrences(window, local_day - timedelta(days=1), local_day + timedelta(days=15)):
            if occ.start > after and occ.end > occ.start:
                if best is None or occ.start < best:
                    best = occ.start
                break
    return best


def opening_after(calendar: Calendar, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` at which :func:`is_open` holds.

    ``after`` itself when it is open; None when nothing ever opens (no window has a non-empty
    occurrence, which a stored window cannot be). A cloud with no windows opens when the freezes
    that hold end.
    """
    at = _aware(after)
    for _ in range(MAX_SEARCH_STEPS):
        frozen = freeze_at(calendar, at)
        if frozen is not None:
            at = frozen.ends_at.astimezone(UTC)
            continue
        if not calendar.windows or window_at(calendar, at) is not None:
            return at
        following = _next_start(calendar, at)
        if following is None:
            return None
        at = following
    return None


def closed_reason(calendar: Calendar, at: datetime) -> str:
    """Why a mutating job may not start at ``at``, for people; "" when it may."""
    frozen = freeze_at(calendar, at)
    if frozen is not None:
        return frozen.describe()
    if calendar.windows and window_at(calendar, at) is None:
        names = "; ".join(w.describe() for w in calendar.windows)
        return f"outside every maintenance window ({names})"
    return ""


def opening_reason(calendar: Calendar, opening: datetime) -> str:
    """What opens at ``opening``: the window occurrence, or "the freeze ends"."""
    occ = window_at(calendar, opening)
    if occ is not None:
        return f"the window {occ.window.describe()}"
    return "the change freeze ends"

"""The rules of change control on plain values: windows, freezes, midnight and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.windows.rules import (
    Calendar,
    Freeze,
    Window,
    closed_reason,
    freeze_at,
    is_open,
    opening_after,
    window_at,
    zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
SATURDAY, SUNDAY = 5, 6


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def saturday_night(**kw) -> Window:
    """Saturdays 01:00–05:00 Europe/Berlin."""
    return Window(frozenset({SATURDAY}), time(1), timedelta(hours=4), "Europe/Berlin", **kw)


def test_a_calendar_without_windows_or_freezes_is_always_open():
    assert is_open(Calendar(), datetime(2026, 12, 3, 12, tzinfo=UTC))
    assert opening_after(Calendar(), datetime(2026, 12, 3, 12, tzinfo=UTC)) == datetime(
        2026, 12, 3, 12, tzinfo=UTC
    )


def test_a_window_is_open_from_its_start_until_just_before_its_end():
    calendar = Calendar(windows=[saturday_night()])
    # 2026-12-05 is a Saturday.
    assert not is_open(calendar, berlin(2026, 12, 5, 0, 59))
    assert is_open(calendar, berlin(2026, 12, 5, 1, 0))
    assert is_open(calendar, berlin(2026, 12, 5, 4, 59, 59))
    assert not is_open(calendar, berlin(2026, 12, 5, 5, 0))
    assert not is_open(calendar, berlin(2026, 12, 6, 2, 0))  # Sunday


def test_next_opening_is_the_next_saturday_one_oclock_berlin():
    calendar = Calendar(windows=[saturday_night()])
    # Thursday 2026-12-03 12:00 UTC: next opening Saturday 01:00 CET = Friday 00:00 UTC.
    assert opening_after(calendar, datetime(2026, 12, 3, 12, tzinfo=UTC)) == datetime(
        2026, 12, 5, 0, tzinfo=UTC
    )
    # Inside the window, the opening is now.
    inside = berlin(2026, 12, 5, 3)
    assert opening_after(calendar, inside) == inside.astimezone(UTC)


def test_a_window_across_midnight_holds_both_sides():
    friday_late = Window(frozenset({4}), time(22), timedelta(hours=4), "Europe/Berlin")  # Fri 22:00–02:00
    calendar = Calendar(windows=[friday_late])
    assert is_open(calendar, berlin(2026, 12, 4, 23, 30))  # Friday
    assert is_open(calendar, berlin(2026, 12, 5, 1, 59))  # Saturday morning, same window
    assert not is_open(calendar, berlin(2026, 12, 5, 2, 0))
    assert not is_open(calendar, berlin(2026, 12, 5, 23, 0))  # Saturday evening: no window
    assert window_at(calendar, berlin(2026, 12, 5, 1)).start == berlin(2026, 12, 4, 22).astimezone(UTC)


def test_a_week_long_window_from_sunday_holds_until_the_next_sunday():
    week = Window(frozenset({SUNDAY}), time(12), timedelta(days=7), "UTC")
    calendar = Calendar(windows=[week])
    assert all(
        is_open(calendar, datetime(2026, 12, 6, 12, tzinfo=UTC) + timedelta(hours=h)) for h in range(168)
    )


def test_spring_forward_night_the_window_ends_at_five_wall_clock_and_lasts_three_hours():
    # 2027-03-28: Berlin goes from 02:00 CET to 03:00 CEST.
    sunday = Window(frozenset({SUNDAY}), time(1), timedelta(hours=4), "Europe/Berlin")
    occ = window_at(Calendar(windows=[sunday]), berlin(2027, 3, 28, 1, 30))
    assert occ.start == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert occ.end == datetime(2027, 3, 28, 3, 0, tzinfo=UTC)  # 05:00 CEST
    assert occ.end - occ.start == timedelta(hours=3)


def test_fall_back_night_the_window_ends_at_five_wall_clock_and_lasts_five_hours():
    # 2026-10-25: Berlin goes from 03:00 CEST back to 02:00 CET.
    sunday = Window(frozenset({SUNDAY}), time(1), timedelta(hours=4), "Europe/Berlin")
    calendar = Calendar(windows=[sunday])
    occ = window_at(calendar, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET, the second one
    assert occ.start == datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00 CEST
    assert occ.end == datetime(2026, 10, 25, 4, 0, tzinfo=UTC)  # 05:00 CET
    assert not is_open(calendar, datetime(2026, 10, 25, 4, 0, tzinfo=UTC))


def test_a_start_the_clocks_skip_opens_at_the_same_instant_an_hour_later_on_the_wall():
    # 02:30 does not exist in Berlin on 2027-03-28: read with the winter offset, it is 03:30 CEST.
    skipped = Window(frozenset({SUNDAY}), time(2, 30), timedelta(hours=2), "Europe/Berlin")
    opening = opening_after(Calendar(windows=[skipped]), datetime(2027, 3, 27, 12, tzinfo=UTC))
    assert opening == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert opening.astimezone(BERLIN).hour == 3


def test_a_freeze_closes_an_open_window_and_the_opening_moves_past_it():
    freeze = Freeze(berlin(2026, 12, 1), berlin(2027, 1, 1), "year-end freeze", "Europe/Berlin")
    calendar = Calendar(windows=[saturday_night()], freezes=[freeze])
    assert not is_open(calendar, berlin(2026, 12, 5, 2))
    assert freeze_at(calendar, berlin(2026, 12, 5, 2)) == freeze
    # The first Saturday window after the freeze: 2027-01-02 01:00 CET.
    assert opening_after(calendar, berlin(2026, 12, 5, 2)) == berlin(2027, 1, 2, 1).astimezone(UTC)
    assert "year-end freeze" in closed_reason(calendar, berlin(2026, 12, 5, 2))


def test_a_freeze_ending_inside_a_window_opens_at_its_end():
    freeze = Freeze(berlin(2026, 12, 1), berlin(2026, 12, 5, 3), "vendor visit")
    calendar = Calendar(windows=[saturday_night()], freezes=[freeze])
    assert opening_after(calendar, berlin(2026, 12, 3)) == berlin(2026, 12, 5, 3).astimezone(UTC)


def test_without_windows_a_freeze_alone_decides():
    freeze = Freeze(datetime(2026, 12, 20, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC), "holidays")
    calendar = Calendar(freezes=[freeze])
    assert is_open(calendar, datetime(2026, 12, 19, tzinfo=UTC))
    assert not is_open(calendar, datetime(2026, 12, 24, tzinfo=UTC))
    assert opening_after(calendar, datetime(2026, 12, 24, tzinfo=UTC)) == datetime(2027, 1, 2, tzinfo=UTC)


def test_overlapping_freezes_are_passed_one_after_the_other():
    a = Freeze(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 10, tzinfo=UTC), "a")
    b = Freeze(datetime(2026, 12, 9, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC), "b")
    calendar = Calendar(freezes=[a, b])
    assert opening_after(calendar, datetime(2026, 12, 2, tzinfo=UTC)) == datetime(2026, 12, 20, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", " UTC"])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)


def test_instants_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        is_open(Calendar(windows=[saturday_night()]), datetime(2026, 12, 5, 2))


# --- properties ----------------------------------------------------------------------------------

ZONES = st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
windows = st.builds(
    Window,
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    duration=st.integers(1, 7 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    timezone=ZONES,
)
# Around the Berlin DST changes of 2026 and 2027, and plain weeks between them.
instants = st.datetimes(
    min_value=datetime(2026, 3, 1), max_value=datetime(2027, 11, 30), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
freezes = st.builds(
    lambda start, hours, reason: Freeze(start, start + timedelta(hours=hours), reason),
    instants,
    st.integers(1, 24 * 40),
    st.text(max_size=10),
)
calendars = st.builds(
    Calendar,
    windows=st.lists(windows, max_size=3).map(tuple),
    freezes=st.lists(freezes, max_size=3).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, after=instants)
def test_the_next_opening_is_open_and_nothing_before_it_is(calendar, after):
    opening = opening_after(calendar, after)
    assert opening is not None  # stored windows always have non-empty occurrences
    assert opening >= after
    assert is_open(calendar, opening)
    # Nothing opened in between: probe every quarter hour and the instants just before each boundary.
    probes = [
        after + timedelta(minutes=15 * i) for i in range(int((opening - after) / timedelta(minutes=15)))
    ]
    probes += [opening - timedelta(seconds=1)] if opening > after else []
    assert not any(is_open(calendar, p) for p in probes if after <= p < opening)


@settings(max_examples=150, deadline=None)
@given(window=windows, at=instants)
def test_a_window_is_open_at_its_occurrence_and_closes_at_its_end(window, at):
    calendar = Calendar(windows=[window])
    occ = window_at(calendar, at)
    if occ is None:
        return
    assert occ.start <= at < occ.end
    assert is_open(calendar, occ.start)
    # Its end is wall-clock start + duration in its zone.
    tz = ZoneInfo(window.timezone)
    local_start = occ.start.astimezone(tz)
    wall_end = (local_start.replace(tzinfo=None) + window.duration).replace(tzinfo=tz)
    assert occ.end >= wall_end.astimezone(UTC) - timedelta(hours=1)


@settings(max_examples=100, deadline=None)
@given(window=windows.filter(lambda w: w.timezone == "Europe/Berlin"), at=instants)
def test_in_berlin_a_window_lasts_its_duration_give_or_take_the_hour_the_clocks_move(window, at):
    occ = window_at(Calendar(windows=[window]), at)
    if occ is None:
        return
    assert abs((occ.end - occ.start) - window.duration) <= timedelta(hours=1)


@settings(max_examples=100, deadline=None)
@given(calendar=calendars, at=instants)
def test_no_instant_inside_a_freeze_is_open(calendar, at):
    if any(f.holds(at) for f in calendar.freezes):
        assert not is_open(calendar, at)
        assert closed_reason(calendar, at)

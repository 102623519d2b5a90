"""The upgrade history as a chart: coordinates for an inline SVG the cloud page draws server-side.

Time runs along the x axis, release series up the y axis (newest on top). A step line follows the
release the cloud ran; each change is a bar from its start to its end spanning the series it went
through, with a dot where each hop landed. The template (``clouds/_history_chart.html``) only
writes out what :func:`history_chart` computes, so the page needs no script (the CSP allows none
inline, and Ferry ships no chart library).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from apps.clouds.history import HistoryRow

WIDTH = 960
LEFT = 150  # room for "2025.1 Epoxy"
RIGHT = 44  # room for half the last tick's date
TOP = 12
LANE = 34
AXIS = 34
MIN_BAR = 4  # a change of minutes in a history of years stays visible
TICKS = 5
DIRECTION_LABEL = {"first": "first deploy", "up": "upgrade", "down": "rollback"}


@dataclass(frozen=True)
class Lane:
    y: float
    label: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float


@dataclass(frozen=True)
class Mark:
    """One change: a bar (``x``, ``y``, ``width``, ``height``), its hop dots and what it says."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    dots: list[Dot]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: int
    lanes: list[Lane]
    ticks: list[Tick]
    line: str  # SVG path data of the release over time
    marks: list[Mark]


def history_chart(rows: list[HistoryRow]) -> Chart | None:
    """The chart of ``rows`` (any order); None without rows."""
    if not rows:
        return None
    rows = sorted(rows, key=lambda row: (row.hops[0].at, row.id))
    releases = {}
    for row in rows:
        for hop in row.hops:
            for release in (hop.from_release, hop.to_release):
                if release is not None:
                    releases[release.series] = release
    ordered = sorted(releases.values(), key=lambda r: r.position, reverse=True)
    lane_y = {r.series: TOP + LANE * i + LANE / 2 for i, r in enumerate(ordered)}
    axis_y = TOP + LANE * len(ordered)
    height = int(axis_y + AXIS)
    spans = [_span(row) for row in rows]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    if last - first < datetime.timedelta(hours=1):
        middle = first + (last - first) / 2
        first, last = middle - datetime.timedelta(minutes=30), middle + datetime.timedelta(minutes=30)
    pad = (last - first) * 0.03
    first, last = first - pad, last + pad
    plot_right = WIDTH - RIGHT

    def x(moment: datetime.datetime) -> float:
        return round(LEFT + (moment - first) / (last - first) * (plot_right - LEFT), 1)

    marks = []
    line: list[str] = []
    for row, (start, end) in zip(rows, spans, strict=True):
        ys = [lane_y[series] for series in row.path]
        left = x(start)
        width = max(x(end) - left, MIN_BAR)
        marks.append(
            Mark(
                x=left,
                y=min(ys) - LANE * 0.3,
                width=round(width, 1),
                height=round(max(ys) - min(ys) + LANE * 0.6, 1),
                css=row.direction,
                title=_title(row),
                dots=[Dot(x(_within(hop.at, start, end)), lane_y[hop.to_release.series]) for hop in row.hops],
            )
        )
        here = lane_y[row.from_release.series] if row.from_release else None
        for hop in row.hops:
            at, there = x(_within(hop.at, start, end)), lane_y[hop.to_release.series]
            if here is None or not line:
                line.append(f"M{at} {there}" if here is None else f"M{left} {here} H{at} V{there}")
            else:
                line.append(f"H{at} V{there}")
            here = there
    line.append(f"H{plot_right}")  # the cloud still runs the release it reached last
    moments = [first + (last - first) * (i / (TICKS - 1)) for i in range(TICKS)]
    ticks = [Tick(x(moment), _tick_label(moment, last - first)) for moment in moments]
    return Chart(
        width=WIDTH,
        height=height,
        plot_left=LEFT,
        plot_right=plot_right,
        axis_y=axis_y,
        lanes=[Lane(lane_y[r.series], f"{r.series} {r.name}") for r in ordered],
        ticks=ticks,
        line=" ".join(line),
        marks=marks,
    )


def _span(row: HistoryRow) -> tuple[datetime.datetime, datetime.datetime]:
    """When the change started and ended, as far as is known: its hops bound it otherwise."""
    start = min([row.started or row.hops[0].at, row.hops[0].at])
    end = max([row.finished or row.hops[-1].at, row.hops[-1].at, start])
    return start, end


def _within(moment: datetime.datetime, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
    return min(max(moment, start), end)


def _title(row: HistoryRow) -> str:
    job = f"job #{row.job_id} ({row.kind})" if row.job_id else "no job"
    when = _when(row.started) if row.started else "?"
    until = _when(row.finished) if row.finished else "not finished"
    who = f", requested by {row.requested_by}" if row.requested_by else ""
    path = " → ".join(row.path)
    return f"{DIRECTION_LABEL[row.direction]} {path}: {when} to {until} ({row.duration_label}), {job}{who}"


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _tick_label(moment: datetime.datetime, span: datetime.timedelta) -> str:
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d") if span > datetime.timedelta(days=2) else local.strftime("%m-%d %H:%M")

"""Charts drawn on the server as SVG: geometry here, markup in templates/charts.html.

Each chart comes with its numbers as a table (its text alternative, WCAG 1.1.1),
which the SVG points to with ``aria-describedby``; no script, no library.
"""

from __future__ import annotations

from dataclasses import dataclass

from lti_tool.competency_states import STATES

BAR_WIDTH = 320  # px of a full bar
ROW_HEIGHT = 28
DENSE_ROW_HEIGHT = 16  # the distribution has a row per competency: 105 for DIPLOVIS
LABEL_WIDTH = 80


def bloc_short(key: str) -> str:
    """How pages name a bloc in a few characters: ``bloc-7a`` → ``7a`` (the two optional
    Bloc 7 tracks share the number 7, so the number alone would not tell them apart)."""
    return key.removeprefix("bloc-")


@dataclass(frozen=True)
class Bar:
    short: str  # e.g. "Bloc 1"
    title: str
    value: int
    total: int
    y: int
    width: int

    @property
    def percent(self) -> int:
        return round(100 * self.value / self.total) if self.total else 0


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH
    row_height: int = ROW_HEIGHT


def bloc_progress_chart(items: list[tuple[str, str, int, int]]) -> BarChart:
    """One bar per bloc: ``(short label, title, reached, total)``."""
    bars = [
        Bar(
            short=short,
            title=title,
            value=reached,
            total=total,
            y=i * ROW_HEIGHT,
            width=round(BAR_WIDTH * reached / total) if total else 0,
        )
        for i, (short, title, reached, total) in enumerate(items)
    ]
    return BarChart(
        bars=bars, width=LABEL_WIDTH + BAR_WIDTH + 60, height=max(ROW_HEIGHT * len(bars), 1)
    )


@dataclass(frozen=True)
class Segment:
    state: str
    count: int
    x: int
    width: int


@dataclass(frozen=True)
class StackedRow:
    short: str  # competency code
    title: str
    counts: dict[str, int]
    segments: list[Segment]
    y: int


@dataclass(frozen=True)
class StackedChart:
    rows: list[StackedRow]
    states: list[str]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH
    row_height: int = ROW_HEIGHT


def distribution_chart(items: list[tuple[str, str, dict[str, int]]]) -> StackedChart:
    """One stacked bar per competency: how many learners are in each state."""
    states = list(STATES)
    rows: list[StackedRow] = []
    for i, (short, title, counts) in enumerate(items):
        total = sum(counts.values())
        x, segments = 0, []
        for state in states:
            n = counts.get(state, 0)
            if not n:
                continue
            width = round(BAR_WIDTH * n / total) if total else 0
            segments.append(Segment(state=state, count=n, x=x, width=width))
            x += width
        rows.append(
            StackedRow(
                short=short,
                title=title,
                counts={s: counts.get(s, 0) for s in states},
                segments=segments,
                y=i * DENSE_ROW_HEIGHT,
            )
        )
    return StackedChart(
        rows=rows,
        states=states,
        width=LABEL_WIDTH + BAR_WIDTH + 10,
        height=max(DENSE_ROW_HEIGHT * len(rows), 1),
        row_height=DENSE_ROW_HEIGHT,
    )

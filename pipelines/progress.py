"""Progress of landing, per UTC day and source: pages, rows, rows/s and an ETA.

Landing calls back once per frame (`land(..., on_frame=...)`); a frame is one page of a paged
API, one batch of a table or file reader. Who is told depends on who is watching:

- `invoice-true run` on a terminal: rich's live display, one line per day and source being read;
- `invoice-true run` off a terminal (cron, CI, a pipe): one structured `key=value` line per day
  and source when it is landed, exact counts, nothing in between;
- `--quiet`: nothing;
- a step with no CLI around it (the Dagster UI, the multiprocess executor): the step's log,
  every `LOG_EVERY_S` seconds and once at the end; the raw asset's metadata holds the same counts.

The ETA comes from how far through the day's window the frames have got (their largest instant
of the source's day column), while the pages arrive in order (each page starts where the last
ended); a source that pages in another order gets rows/s only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import polars as pl

if TYPE_CHECKING:
    from pipelines.adapters.base import Window
    from pipelines.landing import IngestResult

LOG_EVERY_S = 10.0  # how often a step's log says how a long read is going
REFRESH_EVERY_S = 0.25  # the live display is redrawn at least this often while pages arrive


@dataclass
class DayCount:
    """What the read of one source for one day has seen so far."""

    source: str
    day: date
    window_start: datetime
    window_end: datetime
    day_column: str
    started: float = field(default_factory=time.monotonic)
    pages: int = 0
    rows: int = 0
    reached: datetime | None = None  # the furthest instant seen, while pages come in order
    in_order: bool = True
    seconds: float | None = None  # set when the day is landed

    @classmethod
    def start(cls, source: str, day_column: str, window: Window) -> DayCount:
        return cls(source, window.day, window.start, window.end, day_column)

    def add(self, frame: pl.DataFrame) -> None:
        self.add_page(*page_stats(frame, self.day_column))

    def add_page(self, rows: int, first: datetime | None, last: datetime | None) -> None:
        """A page of `rows` whose instants span [first, last] (as `page_stats` says; a day landing in
        a worker process sends these across)."""
        self.pages += 1
        self.rows += rows
        if first is None:
            return
        if self.reached is not None and first < self.reached:
            self.in_order = False  # pages overlap: how far we got says nothing about what is left
        if self.reached is None or last > self.reached:
            self.reached = last

    def stop(self) -> None:
        self.seconds = self.elapsed_s

    @property
    def label(self) -> str:
        return f"{self.source} {self.day}"

    @property
    def elapsed_s(self) -> float:
        return self.seconds if self.seconds is not None else time.monotonic() - self.started

    @property
    def rows_per_s(self) -> float:
        elapsed = self.elapsed_s
        return self.rows / elapsed if elapsed > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        """How far through the window the pages have got; None when that cannot be told."""
        if not self.in_order or self.reached is None:
            return None
        span = (self.window_end - self.window_start).total_seconds()
        done = (self.reached - self.window_start).total_seconds()
        return min(max(done / span, 0.0), 1.0)

    @property
    def eta_s(self) -> float | None:
        fraction = self.fraction
        if fraction is None or fraction <= 0:
            return None
        return self.elapsed_s * (1 - fraction) / fraction


def page_stats(frame: pl.DataFrame, day_column: str) -> tuple[int, datetime | None, datetime | None]:
    at = frame.get_column(day_column).drop_nulls()
    return (frame.height, at.min(), at.max()) if at.len() else (frame.height, None, None)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def clock(seconds: float | None) -> str:
    return "--:--" if seconds is None else str(timedelta(seconds=round(seconds)))


def progress_text(count: DayCount) -> str:
    """One line for a person: the step log's wording."""
    parts = [plural(count.pages, "page"), plural(count.rows, "row"), f"{count.rows_per_s:,.0f} rows/s"]
    if count.fraction is not None:
        parts += [f"{count.fraction:.0%} of the window", f"ETA {clock(count.eta_s)}"]
    return f"{count.label}: " + ", ".join(parts)


def landed_text(count: DayCount, result: IngestResult) -> str:
    return (f"{count.label}: {plural(count.pages, 'page')}, {plural(result.fetched, 'row')} fetched in "
            f"{count.elapsed_s:.1f} s ({count.rows_per_s:,.0f} rows/s); kept {result.kept:,}, "
            f"quarantined {result.quarantined:,}, duplicates collapsed {result.duplicates:,}")


def landed_fields(count: DayCount, result: IngestResult) -> dict[str, Any]:
    """The exact counts of a landed day, for the structured line and the asset's metadata."""
    return {
        "source": count.source, "day": count.day.isoformat(), "pages": count.pages, "rows": result.fetched,
        "kept": result.kept, "quarantined": result.quarantined, "duplicates": result.duplicates,
        "seconds": round(count.elapsed_s, 3), "rows_per_s": round(count.rows_per_s),
    }


class Reporter(Protocol):
    def started(self, count: DayCount) -> None: ...
    def advanced(self, count: DayCount) -> None: ...
    def finished(self, count: DayCount, result: IngestResult | None) -> None:
        """`result` is None when the read failed."""


class StepLogReporter:
    """Into a Dagster step's log (what the UI shows): every few seconds, and at the end."""

    def __init__(self, log, every_s: float = LOG_EVERY_S) -> None:
        self.log, self.every_s = log, every_s
        self._last = 0.0

    def started(self, count: DayCount) -> None:
        self._last = time.monotonic()

    def advanced(self, count: DayCount) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self.log.info(progress_text(count))

    def finished(self, count: DayCount, result: IngestResult | None) -> None:
        if result is not None:
            self.log.info(landed_text(count, result))
        else:
            self.log.info(f"{progress_text(count)}; the read failed")


class LineReporter:
    """Off a terminal: one `key=value` line per landed day and source (logfmt, which log
    shippers read as fields)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def started(self, count: DayCount) -> None:
        pass

    def advanced(self, count: DayCount) -> None:
        pass

    def finished(self, count: DayCount, result: IngestResult | None) -> None:
        if result is None:
            return
        fields = " ".join(f"{k}={v}" for k, v in landed_fields(count, result).items())
        print(f"landed {fields}", file=self.stream or sys.stderr, flush=True)


class RichReporter:
    """On a terminal: rich's live display, a row per day and source being read; a landed one
    leaves a line above the display."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=20), TextColumn("{task.fields[pages]}"),
            TextColumn("{task.fields[rows]}"), TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"),
            console=Console(file=stream or sys.stderr, highlight=False), refresh_per_second=4,
        )
        self._tasks: dict[tuple[str, date], Any] = {}
        self._drawn = 0.0

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def started(self, count: DayCount) -> None:
        self._tasks[(count.source, count.day)] = self.progress.add_task(count.label, total=None, **self._fields(count))
        self.progress.refresh()

    def advanced(self, count: DayCount) -> None:
        task = self._tasks[(count.source, count.day)]
        fraction = count.fraction
        self.progress.update(task, total=None if fraction is None else 1.0, completed=fraction or 0.0,
                             **self._fields(count))
        # redraw now and then, not only on rich's timer: a day of a few pages is over in a blink
        if count.pages == 1 or time.monotonic() - self._drawn >= REFRESH_EVERY_S:
            self._drawn = time.monotonic()
            self.progress.refresh()

    def finished(self, count: DayCount, result: IngestResult | None) -> None:
        task = self._tasks.pop((count.source, count.day))
        self.progress.remove_task(task)
        if result is None:
            self.progress.console.print(f"{progress_text(count)}; the read failed")
        else:
            self.progress.console.print(
                f"{count.label}  {plural(count.pages, 'page')}  {plural(result.fetched, 'row')}  "
                f"{count.rows_per_s:,.0f} rows/s  {count.elapsed_s:.1f} s"
            )

    @staticmethod
    def _fields(count: DayCount) -> dict[str, str]:
        return {"pages": plural(count.pages, "page"), "rows": plural(count.rows, "row"),
                "rate": f"{count.rows_per_s:,.0f} rows/s", "eta": f"ETA {clock(count.eta_s)}"}


class Fanout:
    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def started(self, count: DayCount) -> None:
        for r in self.reporters:
            r.started(count)

    def advanced(self, count: DayCount) -> None:
        for r in self.reporters:
            r.advanced(count)

    def finished(self, count: DayCount, result: IngestResult | None) -> None:
        for r in self.reporters:
            r.finished(count, result)


# The reporter the command line chose for this process; steps that run in it (the in-process
# executor) report to it as well as to their log. Steps in other processes see None.
_shown_by: Reporter | None = None


@contextmanager
def shown_by(reporter: Reporter | None) -> Iterator[None]:
    global _shown_by
    previous, _shown_by = _shown_by, reporter
    try:
        if hasattr(reporter, "__enter__"):
            with reporter:  # type: ignore[union-attr]
                yield
        else:
            yield
    finally:
        _shown_by = previous


def for_step(log) -> Reporter:
    """Who a step tells: its log, and the command line's reporter when one is watching."""
    step = StepLogReporter(log)
    return step if _shown_by is None else Fanout(step, _shown_by)


def choose(quiet: bool, stream: TextIO | None = None) -> Reporter | None:
    """The command line's reporter: rich on a terminal, structured lines off one, none when quiet."""
    if quiet:
        return None
    stream = stream or sys.stderr
    return RichReporter(stream) if stream.isatty() else LineReporter(stream)

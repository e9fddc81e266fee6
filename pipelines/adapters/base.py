"""What every adapter is: a typed config section, and a reader of one wire into canonical frames.

DESIGN.md "Sources as they really come (adapters)": an adapter reads one real format and turns
it, as a polars transform, into the canonical rows of one source (pipelines/sources/registry.py).
Everything after (landing, dedupe, quarantine, the rules) never knows which adapter ran.

An adapter module holds a config model (a pydantic model with `adapter: Literal["<name>"]`,
parsed from its section of the configuration file) and a class that:

- `read(window)` yields frames of canonical rows whose `day_column` lies in the window, with the
  bookkeeping columns of pipelines/sources/frames.py and the contract already applied
  (`check_contract`); no Python loop per row;
- `payloads(rows)` returns the wire text of rows by their `_row` (used for copies that landing
  finds conflicting, which the adapter kept no text for); the default renders the typed row;
- `probe()` connects, authenticates and reads a little, for `invoice-true doctor`; it returns
  one line of what it found (`probe_summary` over `probe_window()`: rows in the last hour, the
  newest instant) and never shows a secret;
- `describe()` names the source for a person (host, path or table; never a secret).

Failures to read raise `pipelines.client.SourceError` (or a subclass), whose text is one line
naming the source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import ClassVar, Protocol

import polars as pl
from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Window:
    """The UTC day a read is for, and the instants [start, end) it selects on the source's
    `day_column`: the day widened by the day-edge margin on both sides ("Day edges")."""

    day: date
    start: datetime
    end: datetime

    @classmethod
    def for_day(cls, day: date, margin: timedelta) -> Window:
        start = datetime.combine(day, time(), timezone.utc)
        return cls(day, start - margin, start + timedelta(days=1) + margin)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.start, self.end


class AdapterConfig(BaseModel):
    """Base of an adapter's configuration section: unknown keys are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    adapter: str

    def env_keys(self) -> dict[str, str]:
        """{key: variable name} of the keys ending in `_env` that are set: secrets and URLs live in
        the environment, never in the file (DESIGN.md "Configuration file")."""
        return {k: v for k, v in self.model_dump().items() if k.endswith("_env") and v}

    def env_value(self, key: str) -> str | None:
        """The value of the environment variable that `key` (e.g. "token_env") names; None if unset
        or empty. The configuration loader checks at start that every named variable is set."""
        name = getattr(self, key)
        return (os.environ.get(name) or None) if name else None


class Adapter(Protocol):
    name: ClassVar[str]  # the `adapter = "..."` value in the configuration file
    feeds: ClassVar[str]  # the canonical source its rows are

    def describe(self) -> str: ...

    def read(self, window: Window) -> Iterator[pl.DataFrame]: ...

    def payloads(self, rows: list[int]) -> dict[int, str]: ...

    def probe(self) -> str: ...


_probe_now: ContextVar[datetime | None] = ContextVar("probe_now", default=None)


def probe_window() -> tuple[datetime, datetime]:
    """[now − 1 h, now): the hour a `probe()` counts rows in. `probe_at` pins now (doctor --at, tests)."""
    end = _probe_now.get() or datetime.now(timezone.utc).replace(microsecond=0)
    return end - timedelta(hours=1), end


@contextmanager
def probe_at(now: datetime | None) -> Iterator[None]:
    token = _probe_now.set(now)
    try:
        yield
    finally:
        _probe_now.reset(token)


def probe_summary(rows: int, newest: datetime | None) -> str:
    """What every probe says it found, worded one way: `1,234 rows in the last hour, newest <instant>`."""
    text = f"{rows:,} row{'' if rows == 1 else 's'} in the last hour"
    if newest is None:
        return text
    at = newest.astimezone(timezone.utc)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{at.microsecond:06d}Z" if at.microsecond else "Z")
    return f"{text}, newest {stamp}"

"""`[events] adapter = "none"`: no fleet events. Nothing is waking (DESIGN.md "Sources"); with cost
rows (rule 11), every second a row covers is running time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import polars as pl

from pipelines.adapters.base import Window
from pipelines.adapters.configs import NoEventsConfig


class NoEvents:
    name: ClassVar[str] = "none"
    feeds: ClassVar[str] = "fleet_events"

    def __init__(self, config: NoEventsConfig, app: object = None) -> None:
        self.config = config

    def describe(self) -> str:
        return "no source"

    def read(self, window: Window) -> Iterator[pl.DataFrame]:
        return iter(())

    def payloads(self, rows: list[int]) -> dict[int, str]:
        return {}

    def probe(self) -> str:
        return "no fleet events configured: nothing is counted as waking"

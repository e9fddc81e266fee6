"""Contract of raw.fleet_events (DESIGN.md "Sources", rule 9), in scope by at."""

from __future__ import annotations

from models.sources import FLEET_EVENTS
from pipelines.contracts.core import Batch, InSet, NonEmpty, NotNull, Suite, Unique
from pipelines.contracts.settings import CheckSettings


def suite(settings: CheckSettings) -> Suite:
    rows = Batch(
        "events",
        """
        SELECT row_number() OVER (ORDER BY "at", resource_id, event) AS _row, "at", resource_id, tier, event
        FROM raw.fleet_events
        WHERE "at" >= $scope_start AND "at" < $scope_end""",
        rules=(
            NotNull("resource_id present", column="resource_id"),
            NonEmpty("resource_id not empty", column="resource_id"),
            NotNull("at present", column="at"),
            NotNull("tier present", column="tier"),
            InSet("event is a known event", column="event", values=FLEET_EVENTS),
            Unique("one event per (resource_id, at, event)", key=("resource_id", "at", "event")),
        ),
        example_columns=("resource_id", "at", "event"),
        key=("resource_id", "at", "event"),
        noun="event",
    )
    return Suite("raw.fleet_events", "at", (rows,))

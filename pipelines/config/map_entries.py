"""`[[resource_map]]` entries: a source's id of a replica → the `resource_id` billing uses.

DESIGN.md "Pinned details → Resource map": ids match exactly; several ids may map to one
resource; an entry may hold only within a half-open validity window [valid_from, valid_to),
because a relaunched spot replica can reuse an address; windows of one (source, source_id) that
overlap are a configuration error; a `focus` entry needs `tier` (a cost row carries none).
Applying the map to rows is pipelines/sources/resource_map.py.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

MapSource = Literal["litellm", "otel", "prometheus", "focus"]
PriceModel = Literal["spot", "on_demand", "reserved"]


class ResourceMapEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: MapSource = Field(description="Whose id this is: litellm (api_base), otel, prometheus, focus.")
    source_id: str = Field(description="The id as the source writes it, matched exactly.")
    resource_id: str = Field(description="The id billing uses for the resource.")
    tier: str | None = Field(None, description="Needed where billing carries no tier (focus).")
    gpu_type: str | None = None
    gpu_count: int | None = Field(None, ge=0)
    price_model: PriceModel | None = None
    valid_from: AwareDatetime | None = Field(None, description="Start of validity, inclusive (RFC 3339).")
    valid_to: AwareDatetime | None = Field(None, description="End of validity, exclusive (RFC 3339).")

    @field_validator("source_id", "resource_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank")
        return value

    @field_validator("valid_from", "valid_to")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    @model_validator(mode="after")
    def _window_and_tier(self) -> ResourceMapEntry:
        if self.valid_from is not None and self.valid_to is not None:
            if self.valid_from > self.valid_to:
                raise ValueError("valid_from is after valid_to")
            if self.valid_from == self.valid_to:
                raise ValueError("valid_from equals valid_to (the window is empty)")
        if self.source == "focus" and not self.tier:
            raise ValueError("a focus entry needs tier (FOCUS cost rows carry none)")
        return self

    def window_text(self) -> str:
        start = rfc3339(self.valid_from) if self.valid_from else "…"
        end = rfc3339(self.valid_to) if self.valid_to else "…"
        return f"[{start}, {end})"


def rfc3339(at: datetime) -> str:
    text = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{at.microsecond:06d}Z" if at.microsecond else "Z")


def overlapping_windows(entries: list[ResourceMapEntry]) -> str | None:
    """The first two entries of one (source, source_id) whose windows overlap, worded; else None.

    Sorted by start, a set of half-open windows is disjoint exactly when each one ends at or
    before the next one starts, so neighbours are all that need comparing."""
    never = datetime.min.replace(tzinfo=timezone.utc)
    numbered = sorted(
        enumerate(entries, 1), key=lambda pair: (pair[1].source, pair[1].source_id, pair[1].valid_from or never)
    )
    for (i, a), (j, b) in zip(numbered, numbered[1:]):
        if (a.source, a.source_id) != (b.source, b.source_id):
            continue
        if a.valid_to is None or b.valid_from is None or a.valid_to > b.valid_from:
            first, second = sorted(((i, a), (j, b)), key=lambda pair: pair[0])
            return (
                f"[[resource_map]] entries {first[0]} and {second[0]} ({a.source} {a.source_id}): "
                f"validity windows {first[1].window_text()} and {second[1].window_text()} overlap"
            )
    return None

"""The accounting knobs of DESIGN.md, in one typed place, with its defaults."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field


class AccountingSettings(BaseModel):
    max_sample_gap_s: int = Field(300, description="An interval longer than this is a billing gap (rule 3).")
    day_edge_margin_s: int = Field(900, description="Each source is read this far beyond both day edges.")
    band_tiers: list[str] = Field(default_factory=lambda: ["h100-class"], description="Tiers the band applies to.")
    band_low_usd_per_mtok: Decimal = Decimal("0.30")
    band_high_usd_per_mtok: Decimal = Decimal("0.70")
    band_max_idle_fraction: Decimal = Decimal("0.25")
    band_min_completion_tokens: int = 1_000_000
    currency: str | None = Field(None, description="The billing currency; None accepts one currency, any code.")

    def sql_params(self) -> dict[str, object]:
        return {
            "max_sample_gap_us": self.max_sample_gap_s * 1_000_000,
            "band_tiers": self.band_tiers,
            "band_low_usd_per_mtok": self.band_low_usd_per_mtok,
            "band_high_usd_per_mtok": self.band_high_usd_per_mtok,
            "band_max_idle_fraction": self.band_max_idle_fraction,
            "band_min_completion_tokens": self.band_min_completion_tokens,
        }

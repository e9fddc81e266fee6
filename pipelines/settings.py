"""The accounting knobs of DESIGN.md, in one typed place, with its defaults.

Set from `[accounting]` of the configuration file; code reads them as `load_config().accounting`.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class AccountingSettings(BaseModel):
    """`[accounting]` of the configuration file (pipelines/config); these defaults are DESIGN.md's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_sample_gap_s: int = Field(300, description="An interval longer than this is a billing gap (rule 3).")
    day_edge_margin_s: int = Field(900, description="Each source is read this far beyond both day edges.")
    band_tiers: list[str] = Field(default_factory=lambda: ["h100-class"], description="Tiers the band applies to.")
    band_low_usd_per_mtok: Decimal = Decimal("0.30")
    band_high_usd_per_mtok: Decimal = Decimal("0.70")
    band_max_idle_fraction: Decimal = Decimal("0.25")
    band_min_completion_tokens: int = 1_000_000
    currency: str | None = Field(None, description="The billing currency; None accepts one currency, any code.")
    # marts.crossover (build or buy). p and L are EXAMPLES to replace with your own quote and staffing.
    crossover_window_days: int = Field(30, description="Trailing UTC days, ending at the latest published day.")
    crossover_month_days: int = Field(30, description="The window's figures are scaled to a month of this many days.")
    gateway_usd_per_mtok: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "h100-class": Decimal("0.90"),  # 70B-class models (llama-3.1-70b, qwen2.5-72b): example
            "h100-ondemand": Decimal("0.80"),  # 32B-class model: example
            "l40s-class": Decimal("0.20"),  # 8B-class model: example
        },
        description="p: per-token gateway price for each tier's traffic, USD per million output tokens (example).",
    )
    gateway_default_usd_per_mtok: Decimal = Field(Decimal("0.90"), description="p for tiers not listed (example).")
    ops_hours_per_month: dict[str, Decimal] = Field(
        default_factory=dict, description="Ops labour hours a month to run a tier self-hosted, per tier (example)."
    )
    ops_default_hours_per_month: Decimal = Field(Decimal("8"), description="Ops hours a month for unlisted tiers (example).")
    ops_usd_per_hour: Decimal = Field(Decimal("120"), description="Loaded cost of one ops hour, USD (example).")

    def sql_params(self) -> dict[str, object]:
        return {
            "max_sample_gap_us": self.max_sample_gap_s * 1_000_000,
            "band_tiers": self.band_tiers,
            "band_low_usd_per_mtok": self.band_low_usd_per_mtok,
            "band_high_usd_per_mtok": self.band_high_usd_per_mtok,
            "band_max_idle_fraction": self.band_max_idle_fraction,
            "band_min_completion_tokens": self.band_min_completion_tokens,
            "crossover_window_days": self.crossover_window_days,
            "crossover_month_days": self.crossover_month_days,
            "gateway_tiers": list(self.gateway_usd_per_mtok),
            "gateway_usd_per_mtok": [str(v) for v in self.gateway_usd_per_mtok.values()],
            "gateway_default_usd_per_mtok": str(self.gateway_default_usd_per_mtok),
            "ops_tiers": list(self.ops_hours_per_month),
            "ops_hours_per_month": [str(v) for v in self.ops_hours_per_month.values()],
            "ops_default_hours_per_month": str(self.ops_default_hours_per_month),
            "ops_usd_per_hour": str(self.ops_usd_per_hour),
        }

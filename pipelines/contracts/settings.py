"""The bounds of the trust checks (DESIGN.md "Checks"), typed, with their defaults.

Set from `[checks]` of the configuration file, and each field can be overridden from the
environment as ``INVOICE_TRUE_<FIELD>`` (upper case), e.g. ``INVOICE_TRUE_MAX_QUARANTINE_SHARE=0.05``,
so a deployment or a test sets a bound without touching code (pipelines/config/app.py reads them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.settings import AccountingSettings

ENV_PREFIX = "INVOICE_TRUE_"


class CheckSettings(BaseModel):
    """`[checks]` of the configuration file (pipelines/config); code reads them as `load_config().checks`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_engine: Literal["sql", "gx"] = Field(
        "sql",
        description="How the data contracts run: `sql`, the DuckDB SQL twin of every expectation (the same "
        "rules pushed down, no Great Expectations start-up: 3-5 s a process); `gx`, Great Expectations on "
        "pandas batches up to max_pandas_rows and the SQL twin beyond. tests/test_contracts.py holds both "
        "engines to the same outcomes.",
    )
    max_pandas_rows: int = Field(
        1_000_000,
        description="A contract batch with more rows than this runs as DuckDB SQL (the same "
        "expectations, pushed down) instead of a Great Expectations pandas batch.",
    )
    max_falls_per_resource_day: int = Field(
        3, description="More cumulative bills that fall (within one billing period) per resource-day is suspect."
    )
    reset_lookback_s: int = Field(
        86_400, description="How far before the scope a sample is read to compare the first in-scope sample with."
    )
    currency: str | None = Field(
        default_factory=lambda: AccountingSettings().currency,
        description="The one billing currency; None accepts any single ISO code.",
    )
    max_quarantine_share: Decimal = Field(
        Decimal("0.01"), description="Quarantined rows / (raw + quarantined rows) of a source over the days in scope."
    )
    max_dark_gap_s: int = Field(900, description="A billing gap or open dark stretch longer than this fails.")
    max_dark_share: Decimal = Field(
        Decimal("0.01"), description="Dark seconds of a tier-day / its running seconds above this fails."
    )
    day_edge_margin_s: int = Field(
        default_factory=lambda: AccountingSettings().day_edge_margin_s,
        description="Each source day is fetched this far beyond both edges (the quarantine check's denominator).",
    )
    examples: int = Field(5, description="Example rows shown per failed expectation.")

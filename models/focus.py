"""A FOCUS 1.2 invoice row (FinOps Open Cost and Usage Specification), the columns we use.

The provider's invoice arrives from `GET /v1/billing/invoices?billing_period=YYYY-MM`
as JSON rows with these column names, or as a FOCUS CSV or Parquet export on disk.
Decimal columns may be JSON numbers or decimal strings; both are read exactly.
Columns we do not use are kept in the raw payload, never dropped silently.

The importer (`pipelines.invoices`, typing in `pipelines.invoice_typing`) applies the same
rules in SQL, in bulk; this model is their readable statement and validates single rows.
Like the importer it forgives what real exports do: ChargeCategory in any case, and timestamps
without an offset, which FOCUS requires to be UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

ChargeCategoryName = Literal["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
CHARGE_CATEGORIES: tuple[str, ...] = ChargeCategoryName.__args__


def canonical_charge_category(value: str) -> str | None:
    """'usage', ' CREDIT ' -> 'Usage', 'Credit'; None for anything else."""
    wanted = value.strip().lower()
    return next((c for c in CHARGE_CATEGORIES if c.lower() == wanted), None)


class FocusInvoiceRow(BaseModel):
    """One charge on the provider's invoice (FOCUS 1.2 column names)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    InvoiceId: str | None = Field(default=None, description="The invoice the charge belongs to.")
    BillingPeriodStart: AwareDatetime = Field(description="Inclusive start of the billing period.")
    BillingPeriodEnd: AwareDatetime = Field(description="Exclusive end of the billing period.")
    ChargePeriodStart: AwareDatetime = Field(description="Inclusive start of the charge's period.")
    ChargePeriodEnd: AwareDatetime = Field(description="Exclusive end of the charge's period.")
    ChargeCategory: ChargeCategoryName = Field(description="Usage, Purchase, Tax, Credit or Adjustment.")
    ResourceId: str | None = Field(default=None, description="The provider's resource id; null for e.g. tax.")
    SkuId: str | None = Field(default=None, description="The provider's SKU.")
    BilledCost: Decimal = Field(description="What is invoiced for the charge, in BillingCurrency.")
    EffectiveCost: Decimal | None = Field(default=None, description="Amortised cost after discounts.")
    ListCost: Decimal | None = Field(default=None, description="Cost at list price.")
    BillingCurrency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of BilledCost.")
    PricingQuantity: Decimal | None = Field(default=None, description="Quantity priced.")
    PricingUnit: str | None = Field(default=None, description="Unit of PricingQuantity, e.g. Hours.")

    @field_validator("ChargeCategory", mode="before")
    @classmethod
    def _category_in_any_case(cls, value: object) -> object:
        if isinstance(value, str):
            return canonical_charge_category(value) or value
        return value

    @field_validator("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", mode="before")
    @classmethod
    def _naive_is_utc(cls, value: object) -> object:
        # FOCUS timestamps are UTC; real exports often write `2024-09-18 23:00:00` without an offset.
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
            except ValueError:
                return value
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        return value

    @field_validator("BilledCost", "EffectiveCost", "ListCost", "PricingQuantity", mode="before")
    @classmethod
    def _no_floats(cls, value: object) -> object:
        # A Python float has already lost digits: decimals must arrive as text (or int).
        if isinstance(value, float):
            raise ValueError("must be a decimal string or integer, not a float (read JSON with parse_float=str)")
        return value

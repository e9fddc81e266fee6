"""A FOCUS 1.2 invoice row (FinOps Open Cost and Usage Specification), the columns we use.

The provider's invoice arrives from `GET /v1/billing/invoices?billing_period=YYYY-MM`
as JSON rows with these column names, or as a FOCUS CSV or Parquet export on disk.
Decimal columns may be JSON numbers or decimal strings; both are read exactly.
Columns we do not use are kept in the raw payload, never dropped silently.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ChargeCategory = Literal["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
CHARGE_CATEGORIES: tuple[str, ...] = ChargeCategory.__args__


class FocusInvoiceRow(BaseModel):
    """One charge on the provider's invoice (FOCUS 1.2 column names)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    InvoiceId: str | None = Field(default=None, description="The invoice the charge belongs to.")
    BillingPeriodStart: AwareDatetime = Field(description="Inclusive start of the billing period.")
    BillingPeriodEnd: AwareDatetime = Field(description="Exclusive end of the billing period.")
    ChargePeriodStart: AwareDatetime = Field(description="Inclusive start of the charge's period.")
    ChargePeriodEnd: AwareDatetime = Field(description="Exclusive end of the charge's period.")
    ChargeCategory: ChargeCategory = Field(description="Usage, Purchase, Tax, Credit or Adjustment.")
    ResourceId: str | None = Field(default=None, description="The provider's resource id; null for e.g. tax.")
    SkuId: str | None = Field(default=None, description="The provider's SKU.")
    BilledCost: Decimal = Field(description="What is invoiced for the charge, in BillingCurrency.")
    EffectiveCost: Decimal | None = Field(default=None, description="Amortised cost after discounts.")
    ListCost: Decimal | None = Field(default=None, description="Cost at list price.")
    BillingCurrency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of BilledCost.")
    PricingQuantity: Decimal | None = Field(default=None, description="Quantity priced.")
    PricingUnit: str | None = Field(default=None, description="Unit of PricingQuantity, e.g. Hours.")

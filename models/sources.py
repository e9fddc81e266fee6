"""The source contracts of DESIGN.md ("Sources"), one pydantic model per row kind.

These models are the contract: the fixture server builds its answers from them,
the docs quote their field descriptions, and ingest uses them to word the error
for a row it rejects. Bulk ingest does not validate row by row through them
(see ``pipelines/ingest``); it applies the same rules in SQL and asks the model
only about the rows that failed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt

SnapshotState = Literal["running", "hibernated", "stopped", "terminated"]
PriceModel = Literal["spot", "on_demand", "reserved"]
ChargeCategory = Literal["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
SkippedReason = Literal["no_resource", "outside_map", "not_usage"]
FleetEventKind = Literal[
    "launched", "wake_requested", "engine_ready", "hibernated", "spot_interrupted", "terminated"
]

SNAPSHOT_STATES: tuple[str, ...] = SnapshotState.__args__
PRICE_MODELS: tuple[str, ...] = PriceModel.__args__
FLEET_EVENTS: tuple[str, ...] = FleetEventKind.__args__


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class BillingSnapshot(_Row):
    """One row per resource per billing sample (`GET /v1/billing/snapshots`)."""

    sampled_at: AwareDatetime = Field(description="When the provider's billing was read (UTC instant).")
    resource_id: str = Field(min_length=1, description="The provider's id of the instance or volume.")
    tier: str = Field(min_length=1, description="The operator's capacity tier, e.g. `h100-class`.")
    gpu_type: str | None = Field(default=None, description="e.g. `H100-SXM-80GB`; null for a volume.")
    gpu_count: NonNegativeInt = Field(description="GPUs on the resource, 0 for a volume.")
    price_model: PriceModel = Field(description="`spot`, `on_demand` or `reserved`.")
    state: SnapshotState = Field(description="`running`, `hibernated`, `stopped` or `terminated`.")
    rate_per_hour: Decimal = Field(description="The current rate, for display only; never multiplied.")
    cumulative_cost: Decimal = Field(ge=0, description="Bill accrued since `billing_period_start`.")
    billing_period_start: AwareDatetime = Field(
        description="Start of the billing period; a change resets `cumulative_cost`."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")


class RequestLog(_Row):
    """One row per gateway request (`GET /v1/usage/requests`), selected on `finished_at`."""

    request_id: str = Field(min_length=1, description="Unique; a re-delivered row repeats it.")
    received_at: AwareDatetime = Field(description="When the gateway received the request.")
    first_token_at: AwareDatetime | None = Field(default=None, description="Null when nothing streamed.")
    finished_at: AwareDatetime = Field(description="When the response ended; never before `received_at`.")
    model: str = Field(min_length=1, description="The served model.")
    tier: str = Field(min_length=1, description="The tier that served it.")
    resource_id: str | None = Field(
        default=None, description="The replica; null when never routed (e.g. a wake that timed out)."
    )
    status: int = Field(ge=100, le=599, description="HTTP status the client got.")
    error: str | None = Field(default=None, description="e.g. `wake_timeout`.")
    prompt_tokens: NonNegativeInt = Field(description="OpenAI `usage.prompt_tokens`.")
    completion_tokens: NonNegativeInt = Field(description="OpenAI `usage.completion_tokens`.")
    cached_tokens: NonNegativeInt = Field(default=0, description="Prompt tokens served from cache.")
    api_key_id: str | None = Field(default=None, description="Opaque caller id.")


class FleetEvent(_Row):
    """One fleet lifecycle event (`GET /v1/fleet/events`), selected on `at`."""

    at: AwareDatetime = Field(description="When the event happened (UTC instant).")
    resource_id: str = Field(min_length=1, description="The resource the event is about.")
    tier: str = Field(min_length=1, description="The resource's tier.")
    event: FleetEventKind = Field(description="What happened.")


class EngineTokenSample(_Row):
    """One reading of a replica's engine token counter (vLLM's `vllm:generation_tokens_total`),
    as Prometheus evaluates it at one step of a `query_range` (DESIGN.md "Token cross-check")."""

    at: AwareDatetime = Field(
        description="The evaluation instant (a step of the range query, UTC): the value is the series' latest "
        "sample at or before it, within Prometheus's 5-minute lookback."
    )
    resource_id: str = Field(
        min_length=1, description="The replica, mapped from the instance label by the resource map (source prometheus)."
    )
    instance: str = Field(
        min_length=1, description="The replica as Prometheus names it: the `instance` label (configurable)."
    )
    series: str = Field(
        description="The series' other labels as canonical text, sorted by name, without `__name__` and the "
        'instance label, e.g. `engine="0",model_name="llama-3.1-70b"`.'
    )
    # Whole tokens, exactly. vLLM increments the counter by whole token counts; Prometheus holds it
    # as a float64, which is exact for integers below 2**53, and prints it without an exponent
    # (strconv 'f', -1), so the wire text of a count parses exactly as an integer. A value that is
    # not a whole number (or NaN, Inf) breaks the contract and is quarantined, never rounded.
    value: NonNegativeInt = Field(
        description="Generated tokens counted since the engine started (cumulative); it falls when the engine "
        "restarts (a reset)."
    )


class CostRow(_Row):
    """Rows of a cloud's FOCUS cost-and-usage export (DESIGN.md rule 11), summed on landing.

    A row with a `resource_id` is spend: the `BilledCost` of the export's `Usage` rows whose
    `ResourceId` the resource map maps at `ChargePeriodStart`, summed per resource, charge period,
    charge class and currency. A row without one is the rest of the cloud bill, summed per billing
    account, charge period, category and why it is skipped: it never funds a replica, and is kept
    so the run can report it and so coverage (the export's latest `ChargePeriodEnd`) is known."""

    charge_period_start: AwareDatetime = Field(description="FOCUS ChargePeriodStart: inclusive start of the charge.")
    charge_period_end: AwareDatetime = Field(description="FOCUS ChargePeriodEnd: exclusive end of the charge.")
    billing_account_id: str = Field(min_length=1, description="FOCUS BillingAccountId; coverage is per account.")
    billing_period_start: AwareDatetime = Field(description="FOCUS BillingPeriodStart: the invoice the rows are on.")
    charge_category: ChargeCategory = Field(description="FOCUS ChargeCategory: Usage, Purchase, Tax, Credit or Adjustment.")
    charge_class: Literal["Correction"] | None = Field(
        default=None, description="FOCUS ChargeClass: `Correction` (of a previously invoiced period) or null."
    )
    resource_id: str | None = Field(
        default=None, description="The mapped resource; null on rows of the rest of the bill (never a replica's spend)."
    )
    tier: str | None = Field(default=None, description="The resource's tier, from its [[resource_map]] entry.")
    gpu_type: str | None = Field(default=None, description="From the resource map, if it gives one.")
    gpu_count: int | None = Field(default=None, ge=0, description="From the resource map, if it gives one.")
    price_model: PriceModel | None = Field(
        default=None,
        description="From the resource map, else PricingCategory: Standard on_demand, Dynamic spot, Committed reserved.",
    )
    billed_cost: Decimal = Field(
        description="Sum of the rows' BilledCost, each rounded half-even to 9 decimals once; any sign."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="FOCUS BillingCurrency (ISO 4217).")
    export_rows: int = Field(ge=1, description="How many export rows were summed into this row.")
    skipped: SkippedReason | None = Field(
        default=None,
        description="Null on spend; else why the rows are the rest of the bill: no_resource (no ResourceId), "
        "outside_map (a resource the map does not hold), not_usage (a mapped resource's Tax, Credit, ...).",
    )


RowT = TypeVar("RowT")


class Page(BaseModel, Generic[RowT]):
    """The envelope every endpoint answers with."""

    data: list[RowT]
    next_cursor: str | None = Field(default=None, description="Opaque; null on the last page.")


SOURCE_MODELS: dict[str, type[_Row]] = {
    "billing_snapshots": BillingSnapshot,
    "requests": RequestLog,
    "fleet_events": FleetEvent,
    "cost_rows": CostRow,
}


def first_error(model: type[BaseModel], row: object) -> tuple[str, str] | None:
    """(field, reason) of the first contract violation in ``row``, or None when it is valid."""
    from pydantic import ValidationError

    try:
        model.model_validate(row)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "<row>"
        return field, err["msg"]
    if isinstance(row, dict) and model is RequestLog:
        received, finished = row.get("received_at"), row.get("finished_at")
        parsed = RequestLog.model_validate(row)
        if parsed.finished_at < parsed.received_at:
            return "finished_at", f"finished_at {finished} is before received_at {received}"
    return None


def as_utc(ts: datetime) -> datetime:
    from datetime import timezone

    return ts.astimezone(timezone.utc)

-- The two invoice marts (DESIGN.md "What it publishes", "Checks"). Money DECIMAL(38,9), rounded
-- once from the exact invoice rows when published.
CREATE SCHEMA IF NOT EXISTS marts;

-- Per billing period and resource: snapshot spend inside the period beside the BilledCost of its Usage
-- invoice rows, within max(0.5 %, $0.01). Other charge categories (credit, tax, adjustment, purchase) get
-- rows of their own, one per resource and category, never folded into a resource's variance.
CREATE TABLE IF NOT EXISTS marts.invoice_reconciliation (
    billing_period VARCHAR NOT NULL,            -- YYYY-MM; the period is [BillingPeriodStart, BillingPeriodEnd) of
                                                -- its invoice rows, else the calendar month (UTC).
    resource_id VARCHAR NOT NULL,               -- The provider's resource id; '__no_resource__' for invoice rows
                                                -- without a ResourceId (e.g. tax), summed per category.
    snapshot_spend DECIMAL(38,9),               -- Sum of marts.resource_hourly.spend over the period's hours; null
                                                -- when never sampled in the period and on rows of other charge
                                                -- categories.
    invoiced_cost DECIMAL(38,9),                -- Sum of BilledCost of the resource's rows of this status's category
                                                -- (Usage for reconciled/mismatch/not_observed), rounded once to 9
                                                -- decimals; null when not invoiced.
    variance DECIMAL(38,9),                     -- invoiced_cost - snapshot_spend, a missing side counted as 0 (so
                                                -- not_invoiced shows -snapshot_spend, not_observed +invoiced_cost);
                                                -- null on rows of other charge categories.
    variance_pct DECIMAL(38,9),                 -- variance / snapshot_spend as a fraction (0.005 = 0.5 %), rounded to
                                                -- 9 decimals; null when snapshot_spend is 0 or null.
    status VARCHAR NOT NULL,                    -- reconciled (|variance| <= max(0.5 % of snapshot_spend, $0.01)),
                                                -- mismatch, not_invoiced (spend seen, no Usage invoice row),
                                                -- not_observed (invoiced, never sampled in the period); or credit,
                                                -- tax, adjustment, purchase for invoice rows of those categories.
    PRIMARY KEY (billing_period, resource_id, status)
);
-- Invoice-true cost per million output tokens per tier and billing period: the invoiced Usage totals where
-- the period has an invoice, the snapshot totals where it does not.
CREATE TABLE IF NOT EXISTS marts.cost_per_mtok_monthly (
    billing_period VARCHAR NOT NULL,            -- YYYY-MM.
    tier VARCHAR NOT NULL,                      -- Capacity tier (a resource's tier from marts.resource_hourly);
                                                -- '__not_observed__' for invoiced resources never sampled.
    spend_basis VARCHAR NOT NULL,               -- invoice (spend = invoiced Usage BilledCost) or snapshots (no
                                                -- invoice imported for the period yet: spend = snapshot spend).
    spend DECIMAL(38,9) NOT NULL,               -- The spend the ratio uses, USD (billing currency): invoiced_cost on
                                                -- the invoice basis, snapshot_spend otherwise.
    snapshot_spend DECIMAL(38,9) NOT NULL,      -- Sum of marts.resource_hourly.spend of the tier's resources over the
                                                -- period's hours.
    invoiced_cost DECIMAL(38,9),                -- Sum of BilledCost of the tier's Usage invoice rows, rounded to 9
                                                -- decimals; null on the snapshots basis. Credits, tax and adjustments
                                                -- are not included (see marts.invoice_reconciliation).
    completion_tokens BIGINT NOT NULL,          -- Output tokens of the tier's '*' rows of marts.cost_per_mtok_daily
                                                -- over the period's days.
    usd_per_mtok DECIMAL(38,9),                 -- spend / completion_tokens x 1e6, rounded half up to 9 decimals;
                                                -- null where there are no completion tokens.
    days_observed INTEGER NOT NULL,             -- Days of the period with a row for the tier in
                                                -- marts.cost_per_mtok_daily: fewer than days_in_period means tokens
                                                -- (and snapshot spend) cover only part of the month.
    days_in_period INTEGER NOT NULL,            -- Days in the billing period.
    PRIMARY KEY (billing_period, tier)
);


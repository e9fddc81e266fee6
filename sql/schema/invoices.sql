-- The two invoice marts (DESIGN.md "What it publishes", "Checks"). Money DECIMAL(38,9), rounded
-- once from the exact invoice rows when published.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS marts.invoice_reconciliation (
    billing_period VARCHAR NOT NULL, resource_id VARCHAR NOT NULL,
    snapshot_spend DECIMAL(38,9), invoiced_cost DECIMAL(38,9),
    variance DECIMAL(38,9), variance_pct DECIMAL(38,9), status VARCHAR NOT NULL,
    PRIMARY KEY (billing_period, resource_id, status)
);
CREATE TABLE IF NOT EXISTS marts.cost_per_mtok_monthly (
    billing_period VARCHAR NOT NULL, tier VARCHAR NOT NULL, spend_basis VARCHAR NOT NULL,
    spend DECIMAL(38,9) NOT NULL, snapshot_spend DECIMAL(38,9) NOT NULL, invoiced_cost DECIMAL(38,9),
    completion_tokens BIGINT NOT NULL, usd_per_mtok DECIMAL(38,9),
    days_observed INTEGER NOT NULL, days_in_period INTEGER NOT NULL,
    PRIMARY KEY (billing_period, tier)
);

COMMENT ON TABLE marts.invoice_reconciliation IS 'Per billing period and resource: snapshot spend inside the period beside the BilledCost of its Usage invoice rows, within max(0.5 %, $0.01). Other charge categories (credit, tax, adjustment, purchase) get rows of their own, one per resource and category, never folded into a resource''s variance.';
COMMENT ON COLUMN marts.invoice_reconciliation.billing_period IS 'YYYY-MM; the period is [BillingPeriodStart, BillingPeriodEnd) of its invoice rows, else the calendar month (UTC).';
COMMENT ON COLUMN marts.invoice_reconciliation.resource_id IS 'The provider''s resource id; ''__no_resource__'' for invoice rows without a ResourceId (e.g. tax), summed per category.';
COMMENT ON COLUMN marts.invoice_reconciliation.snapshot_spend IS 'Sum of marts.resource_hourly.spend over the period''s hours; null when never sampled in the period and on rows of other charge categories.';
COMMENT ON COLUMN marts.invoice_reconciliation.invoiced_cost IS 'Sum of BilledCost of the resource''s rows of this status''s category (Usage for reconciled/mismatch/not_observed), rounded once to 9 decimals; null when not invoiced.';
COMMENT ON COLUMN marts.invoice_reconciliation.variance IS 'invoiced_cost - snapshot_spend, a missing side counted as 0 (so not_invoiced shows -snapshot_spend, not_observed +invoiced_cost); null on rows of other charge categories.';
COMMENT ON COLUMN marts.invoice_reconciliation.variance_pct IS 'variance / snapshot_spend as a fraction (0.005 = 0.5 %), rounded to 9 decimals; null when snapshot_spend is 0 or null.';
COMMENT ON COLUMN marts.invoice_reconciliation.status IS 'reconciled (|variance| <= max(0.5 % of snapshot_spend, $0.01)), mismatch, not_invoiced (spend seen, no Usage invoice row), not_observed (invoiced, never sampled in the period); or credit, tax, adjustment, purchase for invoice rows of those categories.';

COMMENT ON TABLE marts.cost_per_mtok_monthly IS 'Invoice-true cost per million output tokens per tier and billing period: the invoiced Usage totals where the period has an invoice, the snapshot totals where it does not.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.billing_period IS 'YYYY-MM.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.tier IS 'Capacity tier (a resource''s tier from marts.resource_hourly); ''__not_observed__'' for invoiced resources never sampled.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.spend_basis IS 'invoice (spend = invoiced Usage BilledCost) or snapshots (no invoice imported for the period yet: spend = snapshot spend).';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.spend IS 'The spend the ratio uses, USD (billing currency): invoiced_cost on the invoice basis, snapshot_spend otherwise.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.snapshot_spend IS 'Sum of marts.resource_hourly.spend of the tier''s resources over the period''s hours.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.invoiced_cost IS 'Sum of BilledCost of the tier''s Usage invoice rows, rounded to 9 decimals; null on the snapshots basis. Credits, tax and adjustments are not included (see marts.invoice_reconciliation).';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.completion_tokens IS 'Output tokens of the tier''s ''*'' rows of marts.cost_per_mtok_daily over the period''s days.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.usd_per_mtok IS 'spend / completion_tokens x 1e6, rounded half up to 9 decimals; null where there are no completion tokens.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.days_observed IS 'Days of the period with a row for the tier in marts.cost_per_mtok_daily: fewer than days_in_period means tokens (and snapshot spend) cover only part of the month.';
COMMENT ON COLUMN marts.cost_per_mtok_monthly.days_in_period IS 'Days in the billing period.';

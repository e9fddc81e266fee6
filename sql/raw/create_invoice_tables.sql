-- The provider's invoice as FOCUS rows (FinOps Open Cost and Usage Specification), typed, from the
-- billing API (GET /v1/billing/invoices?billing_period=YYYY-MM) or a FOCUS CSV/Parquet export.
-- Money and quantities are DECIMAL(38,18): real exports carry up to 11 decimals (AWS line items
-- such as 0.00001605990), so the raw layer keeps every digit sent; the marts round once, to
-- 9 decimals, when they publish (DESIGN.md rule 8). One row per invoice row: FOCUS rows have no
-- key and two identical charges are two charges, so nothing is deduplicated.
-- An import replaces whole billing periods (delete then insert in one transaction).
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;

CREATE TABLE IF NOT EXISTS raw.invoice_rows (
    billing_period       VARCHAR        NOT NULL,
    invoice_id           VARCHAR,
    billing_period_start TIMESTAMPTZ    NOT NULL,
    billing_period_end   TIMESTAMPTZ    NOT NULL,
    charge_period_start  TIMESTAMPTZ    NOT NULL,
    charge_period_end    TIMESTAMPTZ    NOT NULL,
    charge_category      VARCHAR        NOT NULL,
    resource_id          VARCHAR,
    sku_id               VARCHAR,
    billed_cost          DECIMAL(38,18) NOT NULL,
    effective_cost       DECIMAL(38,18),
    list_cost            DECIMAL(38,18),
    billing_currency     VARCHAR        NOT NULL,
    pricing_quantity     DECIMAL(38,18),
    pricing_unit         VARCHAR,
    source               VARCHAR        NOT NULL,
    row_number           BIGINT         NOT NULL,
    raw_payload          VARCHAR        NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine.invoice_rows (
    source VARCHAR, billing_period VARCHAR, row_number BIGINT, field VARCHAR, reason VARCHAR, raw_payload VARCHAR
);

COMMENT ON TABLE raw.invoice_rows IS 'The provider''s invoice, one row per FOCUS charge row, exactly as sent (decimals exact to 18 places); from the billing API or a FOCUS CSV/Parquet export. Re-importing a billing period replaces it.';
COMMENT ON COLUMN raw.invoice_rows.billing_period IS 'YYYY-MM of BillingPeriodStart (UTC).';
COMMENT ON COLUMN raw.invoice_rows.invoice_id IS 'FOCUS InvoiceId; null when the export has none (FOCUS 1.0 has no InvoiceId).';
COMMENT ON COLUMN raw.invoice_rows.billing_period_start IS 'FOCUS BillingPeriodStart, inclusive; a timestamp without offset is read as UTC.';
COMMENT ON COLUMN raw.invoice_rows.billing_period_end IS 'FOCUS BillingPeriodEnd, exclusive.';
COMMENT ON COLUMN raw.invoice_rows.charge_period_start IS 'FOCUS ChargePeriodStart, inclusive.';
COMMENT ON COLUMN raw.invoice_rows.charge_period_end IS 'FOCUS ChargePeriodEnd, exclusive.';
COMMENT ON COLUMN raw.invoice_rows.charge_category IS 'FOCUS ChargeCategory in its canonical case: Usage, Purchase, Tax, Credit or Adjustment (matched case-insensitively).';
COMMENT ON COLUMN raw.invoice_rows.resource_id IS 'FOCUS ResourceId; null for charges without a resource (tax, support, some credits).';
COMMENT ON COLUMN raw.invoice_rows.sku_id IS 'FOCUS SkuId.';
COMMENT ON COLUMN raw.invoice_rows.billed_cost IS 'FOCUS BilledCost: what is invoiced for the charge, in billing_currency, exact (DECIMAL(38,18)).';
COMMENT ON COLUMN raw.invoice_rows.effective_cost IS 'FOCUS EffectiveCost: amortised cost after discounts, exact; null when not sent.';
COMMENT ON COLUMN raw.invoice_rows.list_cost IS 'FOCUS ListCost: cost at list price, exact; null when not sent.';
COMMENT ON COLUMN raw.invoice_rows.billing_currency IS 'FOCUS BillingCurrency, ISO 4217; one currency per import.';
COMMENT ON COLUMN raw.invoice_rows.pricing_quantity IS 'FOCUS PricingQuantity, exact; null when not sent.';
COMMENT ON COLUMN raw.invoice_rows.pricing_unit IS 'FOCUS PricingUnit, e.g. Hours.';
COMMENT ON COLUMN raw.invoice_rows.source IS '''api'' for the billing API, else the path of the FOCUS file the row came from.';
COMMENT ON COLUMN raw.invoice_rows.row_number IS 'Position of the row in its source, 1-based (API: across pages in fetch order; file: data row, header excluded).';
COMMENT ON COLUMN raw.invoice_rows.raw_payload IS 'The row as sent: its JSON text from the API, or a JSON object of every column of the file row as text.';

COMMENT ON TABLE quarantine.invoice_rows IS 'Invoice rows that break the FOCUS contract we rely on (missing or unparseable BilledCost, timestamps, unknown ChargeCategory, a currency other than the configured one), with the reason; nothing read is lost.';
COMMENT ON COLUMN quarantine.invoice_rows.source IS '''api'' or the path of the FOCUS file.';
COMMENT ON COLUMN quarantine.invoice_rows.billing_period IS 'The billing period being imported (YYYY-MM); null when a whole-file import could not tell it.';
COMMENT ON COLUMN quarantine.invoice_rows.row_number IS 'Position of the row in its source, 1-based.';
COMMENT ON COLUMN quarantine.invoice_rows.field IS 'The FOCUS column that broke the contract (the first one, in column order).';
COMMENT ON COLUMN quarantine.invoice_rows.reason IS 'What is wrong with it.';
COMMENT ON COLUMN quarantine.invoice_rows.raw_payload IS 'The row as sent.';

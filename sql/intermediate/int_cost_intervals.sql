-- Rule 11: spend from cost rows (a cloud's FOCUS export). Each mapped Usage row is a spend
-- interval [ChargePeriodStart, ChargePeriodEnd) worth its BilledCost; rows of one resource and
-- period add up, whatever their charge class (a Correction lands in its own ChargePeriod), and a
-- zero or negative sum counts as it is. The adapter landed only the newest delivery of each
-- billing account and period, already rounded to nanodollars; here the money becomes integer
-- nanodollars (HUGEINT), as snapshot spend does, so every later split is exact.
CREATE OR REPLACE TABLE intermediate.cost_intervals AS
SELECT
    resource_id,
    charge_period_start AS interval_start,
    charge_period_end   AS interval_end,
    currency,
    max(tier)           AS tier,
    CAST(sum(billed_cost) * 1000000000 AS HUGEINT) AS spend_nanos,
    sum(export_rows)    AS export_rows
FROM raw.cost_rows
WHERE skipped IS NULL AND resource_id IS NOT NULL
GROUP BY resource_id, charge_period_start, charge_period_end, currency;

-- Rule 11, "Pinned": coverage is per BillingAccountId. The export covers an account up to the
-- latest ChargePeriodEnd of any of its Usage rows, the fleet's or not (the rest of the bill is
-- landed as compact rows for this). Only Usage rows: a Purchase or Tax row's period is the
-- commitment's or the month's, not how far the export has got.
CREATE OR REPLACE TABLE intermediate.cost_coverage AS
SELECT billing_account_id, max(charge_period_end) AS covered_until
FROM raw.cost_rows
WHERE charge_category = 'Usage'
GROUP BY billing_account_id

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

-- Rule 11, "Pinned": an hour is complete once the export covers it, per BillingAccountId. For
-- each account and hour of the range, how far the export reached by then: the latest
-- ChargePeriodEnd of the account's Usage rows (the fleet's or not: the rest of the bill is landed
-- as compact rows for this) that start before the hour ends. The hour is covered when that is at
-- or after its end. Read that way, coverage comes from the rows the hour's own data came with: a
-- day whose late rows were never landed stays dark, even after later days are stored (their rows
-- start after it). Rows longer than a day (a month's Purchase or fee) say nothing of how far the
-- export has got, and are left out.
CREATE OR REPLACE TABLE intermediate.cost_coverage AS
WITH usage_ends AS (
    SELECT billing_account_id, charge_period_start AS row_start, max(charge_period_end) AS row_end
    FROM raw.cost_rows
    WHERE charge_category = 'Usage' AND charge_period_end - charge_period_start <= INTERVAL 1 DAY
    GROUP BY ALL
),
reach AS (
    SELECT billing_account_id, row_start,
           max(row_end) OVER (PARTITION BY billing_account_id ORDER BY row_start ROWS UNBOUNDED PRECEDING) AS reach
    FROM usage_ends
),
account_hours AS (
    SELECT a.billing_account_id, a.account_reach, h.hour
    FROM (SELECT billing_account_id, max(row_end) AS account_reach FROM usage_ends GROUP BY ALL) AS a,
         (SELECT unnest(generate_series($range_start::TIMESTAMPTZ, $range_end::TIMESTAMPTZ - INTERVAL 1 HOUR,
                                        INTERVAL 1 HOUR)) AS hour) AS h
)
SELECT h.billing_account_id, h.hour, r.reach AS covered_until, h.account_reach
FROM account_hours AS h
ASOF LEFT JOIN reach AS r
    ON h.billing_account_id = r.billing_account_id AND h.hour + INTERVAL 1 HOUR > r.row_start

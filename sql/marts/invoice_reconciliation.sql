-- marts.invoice_reconciliation for one billing period ('YYYY-MM').
-- The period is [BillingPeriodStart, BillingPeriodEnd) of its invoice rows, else the calendar
-- month [period_start, period_end). Per resource: snapshot spend over the period's hours
-- (hours align to month boundaries) beside the BilledCost of its Usage rows; reconciled when
-- |variance| <= max(relative_tolerance x snapshot_spend, absolute_tolerance). Rows of other
-- charge categories are summed per (resource, category) and reported apart, with the category
-- in lower case as status; invoice rows without a ResourceId are keyed '__no_resource__'.
DELETE FROM marts.invoice_reconciliation WHERE billing_period = $billing_period;

INSERT INTO marts.invoice_reconciliation BY NAME
WITH invoice AS (
    SELECT coalesce(resource_id, '__no_resource__') AS resource_id, charge_category, billed_cost,
           billing_period_start, billing_period_end
    FROM raw.invoice_rows
    WHERE billing_period = $billing_period
),
bounds AS (
    SELECT coalesce(min(billing_period_start), $period_start) AS period_start,
           coalesce(max(billing_period_end), $period_end)     AS period_end
    FROM invoice
),
observed AS (
    SELECT h.resource_id, sum(h.spend) AS snapshot_spend
    FROM marts.resource_hourly AS h, bounds AS b
    WHERE h.hour >= b.period_start AND h.hour < b.period_end
    GROUP BY h.resource_id
),
invoiced AS (
    SELECT resource_id, round(sum(billed_cost), 9)::DECIMAL(38, 9) AS invoiced_cost
    FROM invoice
    WHERE charge_category = 'Usage'
    GROUP BY resource_id
),
usage_rows AS (
    SELECT resource_id, o.snapshot_spend, i.invoiced_cost,
           coalesce(i.invoiced_cost, 0) - coalesce(o.snapshot_spend, 0) AS variance
    FROM observed AS o
    FULL JOIN invoiced AS i USING (resource_id)
),
usage_judged AS (
    SELECT *,
        CASE
            WHEN snapshot_spend IS NULL THEN 'not_observed'
            WHEN invoiced_cost IS NULL AND snapshot_spend <> 0 THEN 'not_invoiced'
            WHEN abs(variance) <= greatest($relative_tolerance::DECIMAL(18, 9) * abs(snapshot_spend),
                                           $absolute_tolerance::DECIMAL(18, 9)) THEN 'reconciled'
            ELSE 'mismatch'
        END AS status,
        -- exact ratio in nanos, rounded half away from zero
        CAST(variance * 1000000000 AS HUGEINT)       AS variance_nanos,
        CAST(snapshot_spend * 1000000000 AS HUGEINT) AS snapshot_nanos
    FROM usage_rows
)
SELECT
    $billing_period AS billing_period, resource_id, snapshot_spend, invoiced_cost, variance,
    CASE WHEN snapshot_nanos <> 0 THEN
        (sign(variance_nanos) * sign(snapshot_nanos)
         * ((abs(variance_nanos) * 2000000000 + abs(snapshot_nanos)) // (2 * abs(snapshot_nanos))))
        ::DECIMAL(38, 0) * 0.000000001
    END AS variance_pct,
    status
FROM usage_judged
UNION ALL
SELECT
    $billing_period, resource_id, NULL, round(sum(billed_cost), 9)::DECIMAL(38, 9), NULL, NULL,
    lower(charge_category)
FROM invoice
WHERE charge_category <> 'Usage'
GROUP BY resource_id, charge_category;

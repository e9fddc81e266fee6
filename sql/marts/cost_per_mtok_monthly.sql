-- marts.cost_per_mtok_monthly for one billing period ('YYYY-MM'): per tier, the
-- invoice-true $/Mtok. Where the period has an invoice (any imported row), spend is the tier's
-- invoiced Usage BilledCost (spend_basis 'invoice'); otherwise its snapshot spend ('snapshots').
-- A resource's tier comes from marts.resource_hourly; invoiced resources never sampled fall under
-- '__not_observed__'. Tokens are the tier's '*' rows of marts.cost_per_mtok_daily over the
-- period's days. Credits, tax and adjustments stay in marts.invoice_reconciliation.
DELETE FROM marts.cost_per_mtok_monthly WHERE billing_period = $billing_period;

INSERT INTO marts.cost_per_mtok_monthly BY NAME
WITH invoice AS (
    SELECT * FROM raw.invoice_rows WHERE billing_period = $billing_period
),
bounds AS (
    SELECT coalesce(min(billing_period_start), $period_start) AS period_start,
           coalesce(max(billing_period_end), $period_end)     AS period_end,
           count(*) > 0                                       AS has_invoice
    FROM invoice
),
resource_tiers AS (
    SELECT resource_id, arg_max(tier, hour) AS tier FROM marts.resource_hourly GROUP BY resource_id
),
snapshots AS (
    SELECT h.tier, sum(h.spend) AS snapshot_spend
    FROM marts.resource_hourly AS h, bounds AS b
    WHERE h.hour >= b.period_start AND h.hour < b.period_end
    GROUP BY h.tier
),
invoiced AS (
    SELECT coalesce(t.tier, '__not_observed__') AS tier, round(sum(i.billed_cost), 9)::DECIMAL(38, 9) AS invoiced_cost
    FROM invoice AS i
    LEFT JOIN resource_tiers AS t ON t.resource_id = i.resource_id
    WHERE i.charge_category = 'Usage'
    GROUP BY ALL
),
tokens AS (
    SELECT d.tier, sum(d.completion_tokens) AS completion_tokens, count(DISTINCT d.day) AS days_observed
    FROM marts.cost_per_mtok_daily AS d, bounds AS b
    WHERE d.model = '*' AND d.day >= b.period_start::DATE AND d.day < b.period_end::DATE
    GROUP BY d.tier
),
tiers AS (
    SELECT tier FROM snapshots UNION SELECT tier FROM invoiced UNION SELECT tier FROM tokens
),
combined AS (
    SELECT
        t.tier,
        CASE WHEN b.has_invoice THEN 'invoice' ELSE 'snapshots' END AS spend_basis,
        coalesce(s.snapshot_spend, 0) AS snapshot_spend,
        CASE WHEN b.has_invoice THEN coalesce(i.invoiced_cost, 0) END AS invoiced_cost,
        coalesce(k.completion_tokens, 0) AS completion_tokens,
        coalesce(k.days_observed, 0) AS days_observed,
        datediff('day', b.period_start, b.period_end) AS days_in_period
    FROM tiers AS t
    CROSS JOIN bounds AS b
    LEFT JOIN snapshots AS s USING (tier)
    LEFT JOIN invoiced AS i USING (tier)
    LEFT JOIN tokens AS k USING (tier)
)
SELECT
    $billing_period AS billing_period, tier, spend_basis,
    coalesce(invoiced_cost, snapshot_spend) AS spend,
    snapshot_spend, invoiced_cost,
    completion_tokens::BIGINT AS completion_tokens,
    CASE WHEN completion_tokens > 0 THEN
        (sign(spend_nanos) * ((abs(spend_nanos) * 2000000 + completion_tokens) // (2 * completion_tokens)))
        ::DECIMAL(38, 0) * 0.000000001
    END AS usd_per_mtok,
    days_observed, days_in_period
FROM (SELECT *, CAST(coalesce(invoiced_cost, snapshot_spend) * 1000000000 AS HUGEINT) AS spend_nanos FROM combined);

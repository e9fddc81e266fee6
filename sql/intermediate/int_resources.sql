-- One row per resource seen in the range, with its descriptive attributes and what its billing
-- says about when it is watched (rule 3).
-- A sampled resource: attributes from its latest sample in scope; still watched after its last
-- sample unless that sample says `terminated`.
-- A resource billed by cost rows (rule 11): attributes from its latest row (the resource map's);
-- watched from the start of its first stored row until a `terminated` event that no later row
-- follows; its billing account says how far the export covers it.
-- A resource billed both ways in one build is refused before the marts (pipelines/accounting.py).
CREATE OR REPLACE TABLE intermediate.resources AS
WITH sampled AS (
    SELECT
        resource_id,
        arg_max(tier, sampled_at)        AS tier,
        arg_max(gpu_type, sampled_at)    AS gpu_type,
        arg_max(price_model, sampled_at) AS price_model,
        max(sampled_at)                  AS last_sampled_at,
        arg_max(state, sampled_at) <> 'terminated' AS watched_after_last_sample
    FROM intermediate.samples_in_scope
    GROUP BY resource_id
),
cost_billed AS (
    SELECT
        resource_id,
        arg_max(tier, charge_period_start)        AS tier,
        arg_max(gpu_type, charge_period_start)    AS gpu_type,
        arg_max(price_model, charge_period_start) AS price_model,
        arg_max(billing_account_id, charge_period_start) AS billing_account_id,
        min(charge_period_start) AS first_row_start,
        max(charge_period_start) AS last_row_start
    FROM raw.cost_rows
    WHERE skipped IS NULL AND resource_id IS NOT NULL
    GROUP BY resource_id
),
terminated AS (
    SELECT resource_id, max("at") AS terminated_at
    FROM raw.fleet_events
    WHERE event = 'terminated'
    GROUP BY resource_id
)
SELECT
    resource_id, tier, gpu_type, price_model,
    'snapshots' AS billing,
    last_sampled_at,
    watched_after_last_sample,
    NULL::VARCHAR     AS billing_account_id,
    NULL::TIMESTAMPTZ AS first_row_start,
    NULL::TIMESTAMPTZ AS watched_until
FROM sampled
UNION ALL
SELECT
    c.resource_id, c.tier, c.gpu_type, c.price_model,
    'cost_rows',
    NULL, NULL,
    c.billing_account_id,
    c.first_row_start,
    CASE WHEN t.terminated_at >= c.last_row_start THEN t.terminated_at END
FROM cost_billed AS c
LEFT JOIN terminated AS t USING (resource_id)

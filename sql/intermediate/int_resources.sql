-- One row per resource seen in the range: its descriptive attributes (from its latest
-- sample in scope), whether it is still watched after its last sample (rule 3: a
-- resource is watched until a sample says `terminated`), and where that last sample is.
CREATE OR REPLACE TABLE intermediate.resources AS
SELECT
    resource_id,
    arg_max(tier, sampled_at)        AS tier,
    arg_max(gpu_type, sampled_at)    AS gpu_type,
    arg_max(price_model, sampled_at) AS price_model,
    max(sampled_at)                  AS last_sampled_at,
    arg_max(state, sampled_at) <> 'terminated' AS watched_after_last_sample
FROM intermediate.samples_in_scope
GROUP BY resource_id

-- Where the money went, per tier and UTC day: serving, idle, waking (GPU minutes for zero
-- tokens) and parked (storage while hibernated).
SELECT
    hour::DATE                                     AS day,
    tier,
    sum(spend)                                     AS spend_usd,
    sum(spend_serving)                             AS serving_usd,
    sum(spend_idle)                                AS idle_usd,
    sum(spend_waking)                              AS waking_usd,
    sum(spend_parked)                              AS parked_usd,
    round(sum(spend_idle) / nullif(sum(spend), 0), 3) AS idle_share,
    bool_and(billing_complete)                     AS billing_complete
FROM marts.resource_hourly
GROUP BY ALL
ORDER BY tier, day;

-- $/Mtok per tier and model over every published day, largest spend first within a tier.
SELECT tier, model, sum(spend) AS spend, sum(completion_tokens) AS completion_tokens,
       sum(requests) AS requests,
       CASE WHEN sum(completion_tokens) > 0 THEN
           round(sum(spend) * 1000000 / sum(completion_tokens), 9)::DECIMAL(38, 9) END AS usd_per_mtok,
       count(*) FILTER (WHERE NOT billing_complete) AS incomplete_days,
       min(day) AS first_day, max(day) AS last_day
FROM marts.cost_per_mtok_daily
WHERE model <> '*'
GROUP BY ALL
ORDER BY tier, spend DESC, model;

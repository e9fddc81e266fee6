-- Raw history, read from the lake's Parquet files through the view raw.requests (nothing is copied
-- into the published file): requests, failed requests and completion tokens per UTC hour and model
-- on the newest published day. For another day, put a date in place of the subquery in `chosen`,
-- e.g. SELECT DATE '2026-10-28' AS day.
WITH chosen AS (SELECT max(day) AS day FROM marts.cost_per_mtok_daily)
SELECT date_trunc('hour', timezone('UTC', r.finished_at)) AS hour_utc,
       r.model,
       count(*) AS requests,
       count(*) FILTER (WHERE r.status >= 400) AS failed,
       sum(r.completion_tokens) AS completion_tokens
FROM raw.requests AS r, chosen
WHERE timezone('UTC', r.finished_at) >= chosen.day
  AND timezone('UTC', r.finished_at) < chosen.day + INTERVAL 1 DAY
GROUP BY ALL
ORDER BY hour_utc, r.model;

-- Rule 4, busy time is the UNION of routed requests' [received_at, finished_at), never their
-- sum: per resource, requests sorted by start form islands; a request opens a new island when
-- it starts after every earlier request has finished (reach_before, the latest end among the
-- requests that started before it). Island starts are few, so most requests are ruled out per
-- minute first: a request cannot open an island when an earlier minute's request is still
-- running at its start. The exact running maximum is taken only inside the minutes that are
-- left (a window over ~all requests cost ~5 s of CPU at 10 M requests; this costs ~1 s).
CREATE OR REPLACE TABLE intermediate.busy_islands AS
WITH minutes AS (
    SELECT resource_id, epoch_us(request_start) // 60000000 AS minute, max(request_end) AS minute_reach
    FROM routed_requests
    GROUP BY ALL
),
reach_by_minute AS (
    -- the latest end among requests that started in an earlier minute
    SELECT
        resource_id,
        minute,
        max(minute_reach) OVER (
            PARTITION BY resource_id ORDER BY minute
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach_before_minute
    FROM minutes
),
open_minutes AS (
    -- minutes holding a request that starts after every earlier minute's request has finished
    SELECT DISTINCT m.resource_id, m.minute, m.reach_before_minute
    FROM routed_requests AS r
    JOIN reach_by_minute AS m
      ON m.resource_id = r.resource_id AND m.minute = epoch_us(r.request_start) // 60000000
    WHERE m.reach_before_minute IS NULL OR r.request_start > m.reach_before_minute
),
starts AS (
    -- each distinct start inside those minutes, with the latest end of the requests starting then
    SELECT r.resource_id, m.minute, m.reach_before_minute, r.request_start, max(r.request_end) AS latest_end
    FROM routed_requests AS r
    JOIN open_minutes AS m
      ON m.resource_id = r.resource_id AND m.minute = epoch_us(r.request_start) // 60000000
    GROUP BY ALL
),
reach AS (
    SELECT
        resource_id,
        request_start,
        -- greatest() skips NULLs: NULL only when nothing started before this request
        greatest(reach_before_minute, max(latest_end) OVER (
            PARTITION BY resource_id, minute ORDER BY request_start
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        )) AS reach_before
    FROM starts
),
island_starts AS (
    SELECT resource_id, request_start AS island_start, reach_before
    FROM reach
    WHERE reach_before IS NULL OR request_start > reach_before
),
last_reach AS (
    SELECT resource_id, max(minute_reach) AS reach
    FROM minutes
    GROUP BY resource_id
)
SELECT
    s.resource_id,
    s.island_start,
    -- an island ends where the requests before the next island's start had all finished
    coalesce(lead(s.reach_before) OVER (PARTITION BY s.resource_id ORDER BY s.island_start), l.reach) AS island_end
FROM island_starts AS s
JOIN last_reach AS l USING (resource_id)

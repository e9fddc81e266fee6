-- Rule 4, busy time is the UNION of routed requests' [received_at, finished_at), never their
-- sum: per resource, requests sorted by start form islands; a request opens a new island
-- when it starts after every earlier request has finished. One window pass over the
-- requests, then work on the (far fewer) islands.
CREATE OR REPLACE TABLE intermediate.busy_islands AS
WITH reach AS (
    SELECT
        resource_id,
        request_start,
        max(request_end) OVER (
            PARTITION BY resource_id ORDER BY request_start
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach_before
    FROM intermediate.routed_requests
),
island_starts AS (
    SELECT resource_id, request_start AS island_start, reach_before
    FROM reach
    WHERE reach_before IS NULL OR request_start > reach_before
),
last_reach AS (
    SELECT resource_id, max(request_end) AS reach
    FROM intermediate.routed_requests
    GROUP BY resource_id
)
SELECT
    s.resource_id,
    s.island_start,
    -- an island ends where the requests before the next island's start had all finished
    coalesce(lead(s.reach_before) OVER (PARTITION BY s.resource_id ORDER BY s.island_start), l.reach) AS island_end
FROM island_starts AS s
JOIN last_reach AS l USING (resource_id)

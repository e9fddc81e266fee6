-- Requests routed to a replica that overlap the range, clipped to it (rule 4: busy time is
-- built from every routed request, whatever its status). Zero-length requests add no time.
DROP TABLE IF EXISTS intermediate.routed_requests;
CREATE OR REPLACE TEMP TABLE routed_requests AS
SELECT
    resource_id,
    greatest(received_at, $range_start) AS request_start,
    least(finished_at, $range_end)      AS request_end
FROM raw.requests
WHERE resource_id IS NOT NULL
  AND finished_at > $range_start
  AND finished_at < $range_end + INTERVAL 2 DAY  -- bounds the scan to the range's neighbourhood
  AND received_at < $range_end
  AND finished_at > received_at

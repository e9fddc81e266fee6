-- Rule 11: a resource billed by cost rows takes its states from fleet events. Parked is only
-- [hibernated, the next launched | wake_requested | engine_ready); every other second a row
-- covers is running (spot_interrupted and terminated change nothing here). The state of an
-- instant is carried forward from the resource's last stored event, however old (the lake keeps
-- each resource's last event before the days read). A wake event at the same instant as a
-- `hibernated` one comes after it: the resource runs from that instant. Stretches are clipped
-- to the range; one still open at the range's end ends there.
CREATE OR REPLACE TABLE intermediate.parked_stretches AS
WITH decisive AS (
    SELECT resource_id, "at", event = 'hibernated' AS parks
    FROM raw.fleet_events
    WHERE event IN ('hibernated', 'launched', 'wake_requested', 'engine_ready')
      AND "at" < $range_end
      AND resource_id IN (SELECT resource_id FROM intermediate.resources WHERE billing = 'cost_rows')
),
flips AS (
    -- the events that change the state: the first hibernated after running, the first wake after it
    SELECT resource_id, "at", parks
    FROM (
        SELECT *, lag(parks) OVER (PARTITION BY resource_id ORDER BY "at", parks DESC) AS parked_before
        FROM decisive
    )
    WHERE parks <> coalesce(parked_before, false)
),
stretches AS (
    SELECT resource_id, "at" AS parked_from, parks,
           lead("at") OVER (PARTITION BY resource_id ORDER BY "at", parks DESC) AS parked_until
    FROM flips
)
SELECT
    resource_id,
    greatest(parked_from, $range_start)                        AS parked_start,
    least(coalesce(parked_until, $range_end), $range_end)      AS parked_end
FROM stretches
WHERE parks
  AND coalesce(parked_until, $range_end) > $range_start
  AND least(coalesce(parked_until, $range_end), $range_end) > greatest(parked_from, $range_start)

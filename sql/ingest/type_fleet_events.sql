-- Fleet lifecycle events typed by the FleetEvent contract.
-- Run once per batch of pages: the first creates typed_rows, the others insert into it.
-- `problem` is the first rule a row breaks, in the model's field order.
{{into_typed_rows}}
WITH typed AS (
    SELECT row_number, rfc3339_instant("at") AS "at", resource_id, tier, event
    FROM staged_rows
)
SELECT *,
    CASE
        WHEN "at" IS NULL THEN {'field': 'at', 'reason': 'is not an RFC 3339 timestamp with offset'}
        WHEN coalesce(resource_id, '') = '' THEN {'field': 'resource_id', 'reason': 'is missing or empty'}
        WHEN coalesce(tier, '') = '' THEN {'field': 'tier', 'reason': 'is missing or empty'}
        WHEN NOT coalesce(list_contains($events, event), false)
            THEN {'field': 'event', 'reason': 'is not one of ' || array_to_string($events, ', ')}
        WHEN NOT ("at" >= $window_start AND "at" < $window_end)
            THEN {'field': 'at', 'reason': 'is outside the fetched window'}
    END AS problem
FROM typed;

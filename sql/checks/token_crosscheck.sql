-- The token cross-check (DESIGN.md "Token cross-check"): resource-hours where the logs miss more
-- than $max_miss_pct % of what the engines counted (difference_pct below -$max_miss_pct). Hours
-- whose count is unknown (a series without a value at an end) or zero are not judged.
SELECT resource_id, hour, logged_tokens, counted_tokens, difference, difference_pct, counter_resets
FROM marts.token_crosscheck
WHERE hour >= $range_start AND hour < $range_end AND difference_pct < -$max_miss_pct
ORDER BY hour, resource_id;

-- What the scope holds, so a pass says how much it judged.
SELECT count(*) AS resource_hours,
    count(*) FILTER (WHERE counted_tokens > 0) AS judged,
    count(*) FILTER (WHERE counted_tokens IS NULL) AS not_counted,
    count(*) FILTER (WHERE counter_resets > 0) AS with_resets,
    coalesce(sum(logged_tokens) FILTER (WHERE counted_tokens > 0), 0) AS logged_judged,
    coalesce(sum(counted_tokens) FILTER (WHERE counted_tokens > 0), 0) AS counted_judged
FROM marts.token_crosscheck
WHERE hour >= $range_start AND hour < $range_end;

-- Counter samples of instances the resource map does not know, one line per instance: the
-- instant at the end of each reason varies row by row and is dropped.
SELECT regexp_replace(reason, ' at \d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?$', '') AS reason,
    count(*) AS samples, min(day) AS first_day, max(day) AS last_day
FROM quarantine.engine_token_samples
WHERE day >= CAST($range_start AS DATE) AND day < CAST($range_end AS DATE)
  AND reason LIKE 'unmapped_resource%'
GROUP BY 1
ORDER BY samples DESC, reason

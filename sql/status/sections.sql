-- What `invoice-true status` reads from the published file (pipelines/status.py), one statement
-- per section. Days are UTC (the status connection sets the session's zone).

-- The days the file holds: the UTC days of marts.resource_hourly.
SELECT min(CAST(hour AS DATE)), max(CAST(hour AS DATE)), count(DISTINCT CAST(hour AS DATE))
FROM marts.resource_hourly;

-- Days with incomplete billing (DESIGN.md rule 3), with their resource-hours and resources.
SELECT CAST(hour AS DATE) AS day, count(*) AS resource_hours, list(DISTINCT resource_id ORDER BY resource_id)
FROM marts.resource_hourly
WHERE NOT billing_complete
GROUP BY ALL
ORDER BY day;

-- Open dark stretches: a watched resource with no sample since gap_start.
SELECT resource_id, gap_start
FROM marts.observability_gaps
WHERE gap_end IS NULL
ORDER BY gap_start, resource_id;

-- The last run: the latest run of the daily job, and the runs started after it (the months
-- `invoice-true run` reconciled after it); the latest run of any job when no daily run is recorded.
WITH latest AS (
    SELECT coalesce(
        (SELECT max(started_at) FROM marts.runs WHERE job = $daily_job),
        (SELECT max(started_at) FROM marts.runs)) AS started_at
)
SELECT run_id, job, started_at, finished_at, first_day, last_day, published_at, checks, failed_checks,
    failure, note, exit_code
FROM marts.runs
WHERE started_at >= (SELECT started_at FROM latest)
ORDER BY started_at, run_id;

-- A run's findings, as the command line printed them.
SELECT finding
FROM marts.check_results
WHERE run_id = $run_id AND NOT passed AND finding IS NOT NULL
ORDER BY checked_at, asset, check_name;

-- Quarantined rows of one source by reason. A reason an operator counts by kind starts with it
-- (`unmapped_resource: ...`); other reasons count by field and wording, instants left out.
SELECT
    CASE
        WHEN regexp_matches(reason, '^[a-z_]+: ') THEN regexp_extract(reason, '^([a-z_]+): ', 1)
        WHEN starts_with(reason, 'conflicting copies of ') THEN 'conflicting copies'
        ELSE field || ': ' || regexp_replace(reason, '\d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?',
                                             '<instant>', 'g')
    END AS kind,
    count(*) AS rows
FROM quarantine.{{table}}
GROUP BY ALL
ORDER BY rows DESC, kind;

-- The token cross-check's warnings in the last run (the check writes its own finding).
SELECT c.finding
FROM marts.check_results AS c
WHERE c.check_name = 'token_crosscheck' AND NOT c.passed AND c.finding IS NOT NULL
  AND c.run_id = (SELECT run_id FROM marts.runs WHERE job = $daily_job ORDER BY started_at DESC LIMIT 1)
ORDER BY c.checked_at

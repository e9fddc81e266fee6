-- Quarantined share of one source over the days in scope (DESIGN.md "Checks"; ingest's
-- IngestResult: fetched = kept + quarantined + identical copies collapsed).
-- A day's fetch covers [day - margin, day + 1 day + margin) on the source's selection column;
-- the raw rows in that window are what it kept, quarantine rows tagged with the day are what
-- it rejected. {{table}} and {{selected_on}} come from a fixed list in quarantine.py;
-- {{wire_rows}} counts the wire rows a stored row stands for (cost rows are summed on landing).
SELECT
    CAST(d.day_start AS DATE) AS day,
    (SELECT {{wire_rows}} FROM raw.{{table}} AS r
      WHERE r.{{selected_on}} >= d.day_start - to_seconds($margin_s)
        AND r.{{selected_on}} <  d.day_start + INTERVAL 1 DAY + to_seconds($margin_s)) AS raw_rows,
    (SELECT count(*) FROM quarantine.{{table}} AS q WHERE q.day = CAST(d.day_start AS DATE)) AS quarantined_rows
FROM (SELECT unnest(range($range_start, $range_end, INTERVAL 1 DAY)) AS day_start) AS d
ORDER BY d.day_start;

-- Rejected rows of the days in scope by reason: values that vary row by row (instants) are
-- written as <instant>, so one kind of problem is one line.
SELECT field,
    regexp_replace(reason, '\d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?', '<instant>', 'g') AS reason,
    count(*) AS rows
FROM quarantine.{{table}}
WHERE day >= CAST($range_start AS DATE) AND day < CAST($range_end AS DATE)
GROUP BY ALL
ORDER BY rows DESC, field, reason;

SELECT source, day, row_number, field, reason
FROM quarantine.{{table}}
WHERE day >= CAST($range_start AS DATE) AND day < CAST($range_end AS DATE)
ORDER BY day, row_number
LIMIT $examples

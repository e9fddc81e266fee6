-- marts.token_crosscheck for the hours of [range_start, range_end) (DESIGN.md "Token cross-check",
-- "Pinned details -> Cross-check arithmetic").
-- A row of raw.engine_token_samples is Prometheus's evaluation of one counter series at one step:
-- the latest sample at or before it within the 5-minute lookback, and no row where there was none.
-- The adapter aligns the steps to a divisor of an hour, so the value at an hour boundary is the
-- row at exactly that instant (taking an earlier row would apply the lookback twice).
-- Per series, hour [h, h+1) counts value(h+1) - value(h), or value(h+1) when that is negative
-- (a reset); series are summed after that, per resource; the row is labelled h.
DELETE FROM marts.token_crosscheck WHERE hour >= $range_start AND hour < $range_end;

INSERT INTO marts.token_crosscheck BY NAME
WITH points AS (
    -- the last hour closes on the evaluation at range_end itself
    SELECT resource_id, instance, series, "at", value,
        value < lag(value) OVER (PARTITION BY resource_id, instance, series ORDER BY "at") AS fell
    FROM raw.engine_token_samples
    WHERE "at" >= $range_start AND "at" <= $range_end
),
series_hours AS (
    -- each series in every hour it has an evaluation in; one first seen on an hour's closing
    -- boundary was not there during the hour
    SELECT DISTINCT resource_id, instance, series, date_trunc('hour', "at") AS hour
    FROM points
    WHERE "at" < $range_end
),
resets AS (
    -- a fall seen at t happened in (previous evaluation, t]: a fall seen on a boundary belongs to the hour it closes
    SELECT DISTINCT resource_id, instance, series, date_trunc('hour', "at" - INTERVAL 1 MICROSECOND) AS hour
    FROM points WHERE fell
),
series_increase AS (
    SELECT s.resource_id, s.hour, r.hour IS NOT NULL AS reset,
        CASE WHEN e.value < b.value THEN e.value ELSE e.value - b.value END AS increase
    FROM series_hours AS s
    LEFT JOIN points AS b ON b.resource_id = s.resource_id AND b.instance = s.instance AND b.series = s.series
        AND b."at" = s.hour
    LEFT JOIN points AS e ON e.resource_id = s.resource_id AND e.instance = s.instance AND e.series = s.series
        AND e."at" = s.hour + INTERVAL 1 HOUR
    LEFT JOIN resets AS r ON r.resource_id = s.resource_id AND r.instance = s.instance AND r.series = s.series
        AND r.hour = s.hour
),
counted AS (
    SELECT resource_id, hour,
        -- one series without both ends leaves the resource's hour uncounted: a partial sum would
        -- read as lost logs
        CASE WHEN count(increase) = count(*) THEN sum(increase)::BIGINT END AS counted_tokens,
        count(increase)::INTEGER AS series_counted,
        (count(*) - count(increase))::INTEGER AS series_incomplete,
        count(*) FILTER (WHERE reset)::INTEGER AS counter_resets
    FROM series_increase
    GROUP BY ALL
),
logged AS (
    -- rule 5: tokens land in the hour of finished_at; only resources the Prometheus reports
    SELECT hour, resource_id, completion_tokens
    FROM marts.resource_hourly
    WHERE hour >= $range_start AND hour < $range_end
      AND resource_id IN (SELECT DISTINCT resource_id FROM points)
),
joined AS (
    SELECT hour, resource_id, coalesce(l.completion_tokens, 0) AS logged_tokens, c.counted_tokens,
        coalesce(c.series_counted, 0) AS series_counted, coalesce(c.series_incomplete, 0) AS series_incomplete,
        coalesce(c.counter_resets, 0) AS counter_resets
    FROM counted AS c
    FULL OUTER JOIN logged AS l USING (hour, resource_id)
)
SELECT hour, resource_id, logged_tokens, counted_tokens,
    logged_tokens - counted_tokens AS difference,
    -- exact: 100 x difference / counted in integer nano-percent, rounded half away from zero
    CASE WHEN counted_tokens > 0 THEN
        (sign(logged_tokens - counted_tokens)
         * ((abs(logged_tokens - counted_tokens)::HUGEINT * 200000000000 + counted_tokens) // (2 * counted_tokens::HUGEINT)))
        ::DECIMAL(38, 0) * 0.000000001
    END::DECIMAL(38, 9) AS difference_pct,
    series_counted, series_incomplete, counter_resets
FROM joined;

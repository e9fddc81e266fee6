-- Rule 1: an interval that crosses an hour (or day) boundary is split pro rata by time.
-- The split is made over the interval's WHOLE length, every hour it touches, so two runs
-- over neighbouring days cut it identically; then only the hours inside the range are kept.
-- Rule 8: parts are rounded by largest remainder so an interval's hours add up exactly to
-- its spend (ties go to the earlier hour). Rule 11: a cost row's money may be zero or
-- negative; its magnitude is split and the sign put back, so a refund splits as a charge does.
-- An interval is (resource_id, interval_start, interval_end): sampled intervals never share an
-- end, but overlapping cost rows of one resource may.
CREATE OR REPLACE TABLE intermediate.interval_hours AS
WITH pieces AS (
    SELECT
        i.resource_id,
        i.interval_start,
        i.interval_end,
        i.billing,
        i.time_kind,
        i.interval_us,
        abs(i.spend_nanos) AS magnitude_nanos,
        CASE WHEN i.spend_nanos < 0 THEN -1 ELSE 1 END AS sign,
        h.hour,
        greatest(i.interval_start, h.hour)                 AS piece_start,
        least(i.interval_end, h.hour + INTERVAL 1 HOUR)    AS piece_end
    FROM intermediate.spend_intervals AS i,
    LATERAL (
        SELECT unnest(generate_series(
            date_trunc('hour', i.interval_start),
            i.interval_end - INTERVAL 1 MICROSECOND,
            INTERVAL 1 HOUR
        )) AS hour
    ) AS h
    WHERE i.interval_end > $range_start
      AND i.interval_start < $range_end
),
shares AS (
    SELECT
        *,
        epoch_us(piece_end) - epoch_us(piece_start) AS piece_us,
        magnitude_nanos * (epoch_us(piece_end) - epoch_us(piece_start)) // interval_us AS floor_nanos,
        magnitude_nanos * (epoch_us(piece_end) - epoch_us(piece_start)) % interval_us AS remainder
    FROM pieces
),
ranked AS (
    SELECT
        *,
        magnitude_nanos - sum(floor_nanos) OVER by_interval AS undistributed_nanos,
        row_number() OVER (PARTITION BY resource_id, interval_start, interval_end ORDER BY remainder DESC, hour)
            AS remainder_rank
    FROM shares
    WINDOW by_interval AS (PARTITION BY resource_id, interval_start, interval_end)
)
SELECT
    resource_id,
    interval_start,
    interval_end,
    billing,
    time_kind,
    interval_us,
    hour,
    piece_start,
    piece_end,
    piece_us,
    sign * (floor_nanos + CASE WHEN remainder_rank <= undistributed_nanos THEN 1 ELSE 0 END) AS piece_nanos
FROM ranked
WHERE hour >= $range_start AND hour < $range_end

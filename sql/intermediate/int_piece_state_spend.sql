-- Rule 4: each interval's money is split over its states by their seconds inside it.
-- Rule 8: an hour's piece of an interval is split over its states by largest remainder,
-- so the states add up exactly to the piece (ties go to the state named first). A negative
-- piece (a cost row's refund, rule 11) splits its magnitude and keeps its sign.
CREATE OR REPLACE TABLE intermediate.piece_state_spend AS
WITH shares AS (
    SELECT
        s.resource_id,
        s.interval_start,
        s.interval_end,
        s.hour,
        s.state,
        s.us,
        abs(p.piece_nanos) AS magnitude_nanos,
        CASE WHEN p.piece_nanos < 0 THEN -1 ELSE 1 END AS sign,
        abs(p.piece_nanos) * s.us // p.piece_us AS floor_nanos,
        abs(p.piece_nanos) * s.us % p.piece_us  AS remainder
    FROM intermediate.piece_states AS s
    JOIN intermediate.interval_hours AS p USING (resource_id, interval_start, interval_end, hour)
),
ranked AS (
    SELECT
        *,
        magnitude_nanos - sum(floor_nanos) OVER by_piece AS undistributed_nanos,
        row_number() OVER (PARTITION BY resource_id, interval_start, interval_end, hour ORDER BY remainder DESC, state)
            AS remainder_rank
    FROM shares
    WINDOW by_piece AS (PARTITION BY resource_id, interval_start, interval_end, hour)
)
SELECT
    resource_id,
    interval_start,
    interval_end,
    hour,
    state,
    us,
    sign * (floor_nanos + CASE WHEN remainder_rank <= undistributed_nanos THEN 1 ELSE 0 END) AS nanos
FROM ranked

-- Seconds of each state inside each billing cell (rule 4): every second once.
CREATE OR REPLACE TABLE intermediate.cell_states AS
SELECT resource_id, hour, cell_start, state, sum(us) AS us
FROM intermediate.timeline_segments
WHERE state <> 'uncovered'
GROUP BY ALL;

-- Seconds of each state inside each hour-piece of each billing interval: the seconds of the
-- cells it holds. Overlapping cost rows each see the seconds they cover (rule 11).
CREATE OR REPLACE TABLE intermediate.piece_states AS
SELECT p.resource_id, p.interval_start, p.interval_end, s.hour, s.state, sum(s.us) AS us
FROM intermediate.cell_states AS s
JOIN intermediate.cell_pieces AS p USING (resource_id, hour, cell_start)
GROUP BY ALL

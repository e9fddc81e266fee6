-- Seconds of each state inside each hour-piece of each billing interval (rule 4).
CREATE OR REPLACE TABLE intermediate.piece_states AS
SELECT resource_id, interval_end, hour, state, sum(us) AS us
FROM intermediate.timeline_segments
WHERE state <> 'uncovered'
GROUP BY ALL

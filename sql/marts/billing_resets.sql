-- marts.billing_resets: every reset of a cumulative bill found in the range (rule 1).
DELETE FROM marts.billing_resets WHERE "at" >= $range_start AND "at" < $range_end;

INSERT INTO marts.billing_resets BY NAME
SELECT
    resource_id,
    interval_end AS "at",
    previous_cumulative,
    cumulative_cost AS cumulative,
    reset_reason AS reason
FROM intermediate.spend_intervals
WHERE reset_reason IS NOT NULL
  AND interval_end >= $range_start AND interval_end < $range_end

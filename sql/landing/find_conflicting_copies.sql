-- Rule 9, step 3: versions that disagree on one key are all quarantined, none chosen. So is a
-- row of this day whose key a neighbouring day stores outside this fetch's window (that stored
-- copy stays, and the copy arriving later is the one quarantined). {{stored_own_keys}} lists
-- those keys (an empty relation when no neighbouring day is stored).
CREATE OR REPLACE TEMP TABLE conflicting_rows AS
WITH disagreeing_keys AS (
    SELECT {{key}} FROM row_versions GROUP BY ALL HAVING count(*) > 1
), stored_elsewhere AS (
    SELECT DISTINCT {{key}} FROM ({{stored_own_keys}}) AS stored SEMI JOIN typed_rows USING ({{key}})
)
SELECT _row, 'conflicting copies of {{key_names}} ' || {{key_label}} AS reason
FROM row_versions SEMI JOIN disagreeing_keys USING ({{key}})
UNION ALL
SELECT _row, 'conflicting copies of {{key_names}} ' || {{key_label}} || {{elsewhere}}
FROM typed_rows SEMI JOIN stored_elsewhere USING ({{key}}) ANTI JOIN duplicate_keys USING ({{key}})
WHERE _problem_field IS NULL AND _day = $day
UNION ALL
SELECT _row, 'conflicting copies of {{key_names}} ' || {{key_label}} || {{elsewhere}}
FROM row_versions SEMI JOIN stored_elsewhere USING ({{key}}) ANTI JOIN disagreeing_keys USING ({{key}})
WHERE _day = $day

-- Rule 9, step 3: versions that disagree on one key are all quarantined, none chosen. So is a
-- row whose key raw already holds from outside this window (a neighbouring run stored it there;
-- that stored copy stays, and the copy arriving later is the one quarantined).
CREATE OR REPLACE TEMP TABLE conflicting_rows AS
WITH disagreeing_keys AS (
    SELECT {{key}} FROM row_versions GROUP BY ALL HAVING count(*) > 1
), stored_elsewhere AS (
    SELECT DISTINCT {{key}} FROM raw.{{source}} SEMI JOIN typed_rows USING ({{key}})
    WHERE NOT ({{selected_on}} >= $window_start AND {{selected_on}} < $window_end)
)
SELECT row_number, 'conflicting copies of {{key_names}} ' || {{key_label}} AS reason
FROM row_versions SEMI JOIN disagreeing_keys USING ({{key}})
UNION ALL
SELECT row_number, 'conflicting copies of {{key_names}} ' || {{key_label}} || {{elsewhere}}
FROM typed_rows SEMI JOIN stored_elsewhere USING ({{key}}) ANTI JOIN duplicate_keys USING ({{key}})
WHERE problem IS NULL
UNION ALL
SELECT row_number, 'conflicting copies of {{key_names}} ' || {{key_label}} || {{elsewhere}}
FROM row_versions SEMI JOIN stored_elsewhere USING ({{key}}) ANTI JOIN disagreeing_keys USING ({{key}});

-- The rows a day stores: unique rows straight from typed_rows, plus one row per agreeing
-- duplicate key; conflicts and rejected rows stay out. `_day` is the UTC day each row belongs
-- to, `_stored_for` the day this fetch was for (a row of another day is a margin row).
CREATE OR REPLACE TEMP VIEW kept_rows AS
SELECT *, DATE {{day}} AS _stored_for
FROM (
    SELECT {{columns}} FROM typed_rows ANTI JOIN duplicate_keys USING ({{key}})
    WHERE _problem_field IS NULL AND _row NOT IN (SELECT _row FROM conflicting_rows)
    UNION ALL
    SELECT {{columns}} FROM row_versions
    WHERE _row NOT IN (SELECT _row FROM conflicting_rows)
)

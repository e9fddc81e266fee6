-- Unique rows straight from typed_rows, plus one row per agreeing duplicate key; conflicts stay out.
INSERT INTO raw.{{source}} BY NAME
SELECT {{columns}} FROM typed_rows ANTI JOIN duplicate_keys USING ({{key}})
WHERE problem IS NULL AND row_number NOT IN (SELECT row_number FROM conflicting_rows)
UNION ALL
SELECT {{columns}} FROM row_versions
WHERE row_number NOT IN (SELECT row_number FROM conflicting_rows);

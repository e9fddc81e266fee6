-- Rule 9, step 2: copies of a duplicate key with equal typed values are one version ('…Z' and
-- '…+00:00' are one instant once typed). A version keeps the position of its first copy.
CREATE OR REPLACE TEMP TABLE row_versions AS
SELECT {{columns}}, min(_row) AS _row, count(*) AS copies
FROM typed_rows SEMI JOIN duplicate_keys USING ({{key}})
WHERE _problem_field IS NULL
GROUP BY ALL

-- Rule 9, step 1: keys fetched more than once. Most keys are unique, so only these rows are
-- compared field by field (grouping every row on every column costs seconds at 10 M rows).
CREATE OR REPLACE TEMP TABLE duplicate_keys AS
SELECT {{key}} FROM typed_rows WHERE problem IS NULL GROUP BY ALL HAVING count(*) > 1;

-- Rule 9, step 1: keys fetched more than once. Most keys are unique, so only these rows are
-- compared field by field (grouping every row on every column costs seconds at 10 M rows).
-- Grouping on a 64-bit hash of the key first is cheaper than on the key's text; a hash
-- collision only adds a candidate, which the exact grouping then drops.
CREATE OR REPLACE TEMP TABLE duplicate_keys AS
WITH repeated_hashes AS (
    SELECT hash({{key}}) AS key_hash FROM typed_rows WHERE _problem_field IS NULL GROUP BY ALL HAVING count(*) > 1
)
SELECT {{key}} FROM typed_rows
WHERE _problem_field IS NULL AND hash({{key}}) IN (SELECT key_hash FROM repeated_hashes)
GROUP BY ALL HAVING count(*) > 1

-- A source without a key (cost rows add up, DESIGN.md rule 11) keeps every valid row.
CREATE OR REPLACE TEMP TABLE conflicting_rows (_row BIGINT, reason VARCHAR);
CREATE OR REPLACE TEMP TABLE row_versions (copies BIGINT);
CREATE OR REPLACE TEMP VIEW kept_rows AS
SELECT {{columns}}, DATE {{day}} AS _stored_for FROM typed_rows WHERE _problem_field IS NULL

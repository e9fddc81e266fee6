-- Parsers the type_<source>.sql files share. Each returns NULL for a value the contract
-- (models/sources.py) rejects, so a bad value rejects its row, never the whole page.

-- RFC 3339 with an offset: DuckDB alone would read a bare local time as UTC, and it does not
-- know the lower-case 't'/'z' RFC 3339 allows. Instants need the session TimeZone to be UTC.
CREATE OR REPLACE TEMP MACRO rfc3339_instant(sent) AS
    CASE WHEN regexp_full_match(sent, '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})')
         THEN TRY_CAST(upper(sent) AS TIMESTAMPTZ) END;

-- A cast alone would round '1.5' to 2.
CREATE OR REPLACE TEMP MACRO whole_number(sent) AS
    CASE WHEN regexp_full_match(sent, '-?\d{1,18}') THEN CAST(sent AS BIGINT) END;

-- Decimals arrive as their exact text (ingest quotes JSON numbers before DuckDB reads them).
CREATE OR REPLACE TEMP MACRO exact_decimal(sent) AS
    CASE WHEN regexp_full_match(sent, '-?\d+(\.\d+)?([eE][+-]?\d+)?')
         THEN TRY_CAST(sent AS DECIMAL(38, 9)) END;

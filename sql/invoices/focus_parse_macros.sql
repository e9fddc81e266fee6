-- Parsers of FOCUS values as real exports write them (pipelines/invoice_staging.py): timestamps
-- with or without `T`, seconds or offset (FOCUS timestamps are UTC); exact decimals in plain or
-- scientific notation, at most 18 decimal places (the raw layer's DECIMAL(38,18)).
CREATE OR REPLACE TEMP MACRO focus_instant(sent) AS
    CASE WHEN regexp_full_match(sent, '\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)? ?([Zz]|[+-]\d{2}(:?\d{2})?)?')
         THEN TRY_CAST(upper(sent) AS TIMESTAMPTZ) END;
CREATE OR REPLACE TEMP MACRO focus_decimal_text(sent) AS
    regexp_full_match(sent, '[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?');
CREATE OR REPLACE TEMP MACRO focus_decimal_places(sent) AS
    length(rtrim(regexp_extract(sent, '\.(\d*)', 1), '0'))
    - coalesce(TRY_CAST(regexp_extract(sent, '[eE]([+-]?\d+)', 1) AS INTEGER), 0);
CREATE OR REPLACE TEMP MACRO focus_decimal(sent) AS
    CASE WHEN focus_decimal_text(sent) AND focus_decimal_places(sent) <= 18
         THEN TRY_CAST(sent AS DECIMAL(38, 18)) END;
CREATE OR REPLACE TEMP MACRO focus_decimal_problem(sent) AS
    CASE WHEN NOT focus_decimal_text(sent) THEN 'is not a decimal number: ' || sent
         WHEN focus_decimal_places(sent) > 18 THEN 'has more than 18 decimal places: ' || sent
         ELSE 'is out of range (|value| >= 1e20): ' || sent END;

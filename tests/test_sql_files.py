"""The SQL files' two conventions: statements end with `;` at a line end (never inside a comment), and
a declared table's comments become its COMMENTs (sql/schema/marts.sql)."""

import duckdb

from pipelines.sql_files import comments_declared_in, split_statements

DECLARED = """\
-- Header of the file, not of the table.
CREATE SCHEMA IF NOT EXISTS m;

-- One row per thing; the operator's
-- own words.
CREATE TABLE IF NOT EXISTS m.things (
    id VARCHAR NOT NULL,                -- The thing's id.
    spend DECIMAL(38,9) NOT NULL,       -- Spend, USD; rounded half up
                                        -- to 9 decimals;
    note VARCHAR,                       -- A note -- free text.
    PRIMARY KEY (id)
);
INSERT INTO m.things VALUES ('a;--', 1, 'x');  -- a string may hold ; and --
"""


def test_a_semicolon_ends_a_statement_only_at_a_line_end_outside_comments():
    parts = split_statements(DECLARED)
    assert len(parts) == 3
    assert parts[1].startswith("-- One row per thing") and parts[1].endswith(")")
    assert parts[2] == "INSERT INTO m.things VALUES ('a;--', 1, 'x')"


def test_declared_comments_are_the_table_s_and_each_column_s():
    assert comments_declared_in(DECLARED) == (
        "COMMENT ON TABLE m.things IS 'One row per thing; the operator''s own words.'",
        "COMMENT ON COLUMN m.things.id IS 'The thing''s id.'",
        "COMMENT ON COLUMN m.things.spend IS 'Spend, USD; rounded half up to 9 decimals;'",
        "COMMENT ON COLUMN m.things.note IS 'A note -- free text.'",
    )
    with duckdb.connect() as con:
        for statement in split_statements(DECLARED) + comments_declared_in(DECLARED):
            con.execute(statement)
        assert con.sql("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'things' "
                       "ORDER BY column_index").fetchall() == [
            ("id", "The thing's id."), ("spend", "Spend, USD; rounded half up to 9 decimals;"),
            ("note", "A note -- free text.")]

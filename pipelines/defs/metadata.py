"""What a materialisation shows in the UI: row count, column schema with the tables' COMMENTs, a preview."""

import dagster as dg
import duckdb
import polars as pl


def table_metadata(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, *, where: str = "", params: list | None = None
) -> dict[str, dg.MetadataValue]:
    # schema and table are our own identifiers, never user input; `where` takes its values as parameters
    count = con.execute(f"SELECT count(*) FROM {schema}.{table} {where}", params).fetchall()[0][0]
    preview = con.sql(f"SELECT * FROM {schema}.{table} {where} LIMIT 10", params=params).pl()
    columns = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table],
    ).fetchall()
    return {
        "dagster/row_count": dg.MetadataValue.int(count),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, kind, description=comment) for name, kind, comment in columns]
        ),
        "preview": dg.MetadataValue.md(markdown(preview) if count else "(empty)"),
    }


def markdown(frame: pl.DataFrame) -> str:
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
        tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=60,
    ):
        return str(frame)

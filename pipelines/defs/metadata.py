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


def lake_metadata(lake, source, days) -> dict[str, dg.MetadataValue]:
    """Row count and a preview of the days just landed, and the column schema from the source's
    declaration (pipelines/sources/registry.py): read from the day files, not the warehouse."""
    manifests = [m for d in days if (m := lake.manifest(source.name, d)) is not None]
    columns = [dg.TableColumn(c.name, c.sql_type, description=c.comment) for c in source.columns]
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(sum(m.kept for m in manifests)),
        "dagster/column_schema": dg.TableSchema(columns=columns),
    }
    if manifests:
        files = [lake.path(source.name, m.rows_file) for m in manifests[-1:]]
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            lake.register(con)
            preview = con.sql(
                f"SELECT {', '.join(chr(34) + c + chr(34) for c in source.column_names)} "
                "FROM read_parquet(?) WHERE _day = _stored_for LIMIT 10", params=[files]).pl()
        metadata["preview"] = dg.MetadataValue.md(markdown(preview) if preview.height else "(empty)")
        metadata["files"] = dg.MetadataValue.json({m.day: m.rows_file for m in manifests})
    return metadata

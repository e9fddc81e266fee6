"""`litellm_postgres`: requests read from LiteLLM's own PostgreSQL table `LiteLLM_SpendLogs`, read-only.

The table is LiteLLM's (`litellm/proxy/schema.prisma`, created by litellm-proxy-extras'
migrations; fixtures/wires/litellm_spendlogs.sql): quoted camelCase columns, `TIMESTAMP(3)`
without zone holding UTC, JSONB `metadata`. Its only time index is on `"startTime"`
(`LiteLLM_SpendLogs_startTime_idx`), while a canonical day selects on `finished_at` = `"endTime"`.
So the read asks the index for requests that *started* between the window's start minus
`max_request_s` (a bound on request length) and its end, and keeps those that *ended* inside
the window. A request longer than `max_request_s` is never seen; the whole table never is either.

How it reads (driver: ADBC's PostgreSQL driver, see README "STACK"):
- one session, every transaction read-only (`default_transaction_read_only` in the DSN);
- the window's instants are bound as parameters (never formatted into SQL) to session
  settings with `set_config`, and the query reads them back once each through scalar
  subqueries: ADBC streams a result as Arrow only through `COPY (query) TO STDOUT`, which takes
  no bind parameters (a bound query is materialised whole, ~3x slower and unbounded in memory);
- timestamps compare as timestamps without zone against naive UTC values, never against a
  zoned value (which PostgreSQL would shift by the session's TimeZone);
- record batches are gathered to about `batch_rows` rows and each is transformed by
  `litellm_rows.to_requests`, so memory stays bounded at 10 M rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Literal

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as pg
import polars as pl
import pyarrow as pa
from pydantic import Field

from pipelines.adapters.configs import LiteLLMPostgresConfig
from pipelines.adapters.base import Window
from pipelines.adapters.litellm_rows import SpendLogMapping, to_requests
from pipelines.adapters.postgres_dsn import Dsn, connect_error
from pipelines.sources.resource_map import ResourceMap
from pipelines.client import SourceAuthError, SourceError, SourceProtocolError, SourceUnavailable
from pipelines.sources.frames import PAYLOAD, PROBLEM_FIELD, ROW

log = logging.getLogger(__name__)
SOURCE = "LiteLLM PostgreSQL"
TABLE = "LiteLLM_SpendLogs"
READ_COLUMNS = ("request_id", "api_key", "startTime", "endTime", "completionStartTime", "model", "model_group",
                "api_base", "status", "prompt_tokens", "completion_tokens", "metadata")
SETTING = "invoice_true.{}"  # custom session settings holding the bound window


def _select_sql(table: str) -> str:
    start, start_from, end = (f"(SELECT current_setting('{SETTING.format(n)}')::timestamp)"
                              for n in ("window_start", "started_from", "window_end"))
    # error_information only on failures (a success has none; skipping it saves the transfer).
    # cached tokens: metadata.additional_usage_values (litellm_rows.py says where LiteLLM writes them).
    return f"""
SELECT "request_id", "api_key", "startTime", "endTime", "completionStartTime", "model", "model_group",
       "api_base", "status", "prompt_tokens", "completion_tokens",
       CASE WHEN "status" IS DISTINCT FROM 'success' THEN "metadata"->'error_information'->>'error_code' END AS error_code,
       CASE WHEN "status" IS DISTINCT FROM 'success' THEN "metadata"->'error_information'->>'error_class' END AS error_class,
       COALESCE("metadata"->'additional_usage_values'->>'cache_read_input_tokens',
                "metadata"->'additional_usage_values'->'prompt_tokens_details'->>'cached_tokens') AS cached_tokens
FROM {table}
WHERE "startTime" >= {start_from} AND "startTime" < {end}
  AND "endTime" >= {start} AND "endTime" < {end}"""


def naive_utc(at: datetime) -> datetime:
    """The UTC wall clock of an instant, without zone: how LiteLLM's columns hold time."""
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


class LiteLLMPostgres:
    name: ClassVar[str] = "litellm_postgres"
    feeds: ClassVar[str] = "requests"

    def __init__(self, config: LiteLLMPostgresConfig, mapping: SpendLogMapping, *, dsn: str | None = None) -> None:
        self.config, self.mapping = config, mapping
        raw = dsn if dsn is not None else os.environ.get(config.dsn_env)
        if not raw:
            raise SourceError(SOURCE, f"has no DSN: ${config.dsn_env} is not set", TABLE)
        self.dsn = Dsn(raw)
        self._rejected: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"LiteLLMPostgres({self.describe()!r})"

    def describe(self) -> str:
        return f"{TABLE} at {self.dsn.describe()} (PostgreSQL)"

    @property
    def _where(self) -> str:
        return f"{TABLE} at {self.dsn.describe()}"

    # -- reading ---------------------------------------------------------------------------
    def read(self, window: Window) -> Iterator[pl.DataFrame]:
        label = f"endTime in [{window.start:%Y-%m-%dT%H:%M:%SZ}, {window.end:%Y-%m-%dT%H:%M:%SZ})"
        self._rejected = {}
        rows = 0
        with self._session(label) as con:
            table = self._check_columns(con, label)
            self._bind_window(con, window)
            buffer: list[pa.RecordBatch] = []
            pending = 0
            for batch in self._stream(con, _select_sql(table), label):
                buffer.append(batch)
                pending += batch.num_rows
                while pending >= self.config.batch_rows:  # frames of exactly batch_rows rows
                    gathered = pa.Table.from_batches(buffer)
                    yield self._frame(gathered.slice(0, self.config.batch_rows), window, rows + 1)
                    rest = gathered.slice(self.config.batch_rows)
                    buffer, pending, rows = rest.to_batches(), rest.num_rows, rows + self.config.batch_rows
            if pending:
                yield self._frame(pa.Table.from_batches(buffer), window, rows + 1)
                rows += pending
        if rows == 0:
            log.warning("%s: no requests with %s in %s", SOURCE, label, self._where)

    def _frame(self, table: pa.Table, window: Window, first_row: int) -> pl.DataFrame:
        wire = pl.from_arrow(table)
        frame = to_requests(wire, self.mapping, window=window, first_row=first_row)
        rejected = frame.filter(pl.col(PROBLEM_FIELD).is_not_null()).select(ROW, PAYLOAD)
        self._rejected.update(zip(rejected[ROW].to_list(), rejected[PAYLOAD].to_list()))  # rare rows only
        return frame

    def payloads(self, rows: list[int]) -> dict[int, str]:
        """Wire text of rejected rows of the last read. LiteLLM_SpendLogs keys rows by request_id,
        so a read never yields two copies of a row; other rows are left to the typed rendering."""
        return {r: self._rejected[r] for r in rows if r in self._rejected}

    def probe(self) -> str:
        label = "probe"
        now = naive_utc(datetime.now(timezone.utc))
        with self._session(label) as con:
            table = self._check_columns(con, label)
            with con.cursor() as cur:
                # Both use the startTime index: the newest endTime is read among the latest rows by
                # startTime (endTime has no index; max over the table would scan it).
                cur.execute(f'SELECT count(*) FROM {table} WHERE "startTime" >= $1', parameters=(now - timedelta(hours=1),))
                [(recent,)] = cur.fetchall()
                cur.execute(f'SELECT max("endTime") FROM (SELECT "endTime" FROM {table} '
                            'ORDER BY "startTime" DESC LIMIT 1000) AS latest')
                [(newest,)] = cur.fetchall()
        newest_text = f"{newest:%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z" if newest else "none"
        return f"{self.describe()}: {recent:,} requests started in the last hour; newest endTime {newest_text}"

    def explain(self, window: Window) -> str:
        """The plan PostgreSQL chooses for `read(window)` (what `doctor` shows; tests check the index)."""
        with self._session("explain") as con:
            table = self._check_columns(con, "explain")
            self._bind_window(con, window)
            with con.cursor() as cur:
                cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
                cur.execute("EXPLAIN " + _select_sql(table))
                return "\n".join(line for (line,) in cur.fetchall())

    # -- session plumbing --------------------------------------------------------------------
    @contextmanager
    def _session(self, label: str) -> Iterator[pg.Connection]:
        try:
            con = pg.connect(self.dsn.read_only(connect_timeout_s=self.config.connect_timeout_s))
        except adbc_driver_manager.Error as exc:
            refused, reason = connect_error(self.dsn, exc)
            if refused:
                raise SourceAuthError(SOURCE, f"refused the login ({reason})", self._where, label,
                                      f"check the role and password in ${self.config.dsn_env}") from None
            raise SourceUnavailable(SOURCE, f"could not connect ({reason})", self._where, label,
                                    f"check the server and ${self.config.dsn_env}") from None
        try:
            yield con
        finally:
            con.close()

    def _table(self, con: pg.Connection) -> tuple[str, str]:
        schema = self.dsn.schema
        if schema is None:
            with con.cursor() as cur:
                cur.execute("SELECT current_schema()")
                [(schema,)] = cur.fetchall()
        return schema, f'"{schema.replace(chr(34), chr(34) * 2)}"."{TABLE}"'

    def _check_columns(self, con: pg.Connection, label: str) -> str:
        """The qualified table name, once every column the read needs is there (else one line naming them)."""
        schema, table = self._table(con)
        with con.cursor() as cur:
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                        parameters=(schema, TABLE))
            present = {name for (name,) in cur.fetchall()}
        if not present:
            raise SourceProtocolError(SOURCE, f'has no table "{TABLE}" in schema "{schema}" that this role may read',
                                      self._where, label, "check the schema and GRANT SELECT")
        missing = [c for c in READ_COLUMNS if c not in present]
        if missing:
            names = ", ".join(f'"{c}"' for c in missing)
            raise SourceProtocolError(SOURCE, f"has no column {names} in {TABLE}", self._where, label,
                                      "a renamed or dropped column; LiteLLM's schema.prisma defines it")
        return table

    def _bind_window(self, con: pg.Connection, window: Window) -> None:
        start_from = window.start - timedelta(seconds=self.config.max_request_s)
        values = {"window_start": window.start, "started_from": start_from, "window_end": window.end}
        sql = "SELECT " + ", ".join(
            f"set_config('{SETTING.format(name)}', (${i}::timestamp)::text, false)" for i, name in enumerate(values, 1))
        with con.cursor() as cur:
            cur.execute(sql, parameters=tuple(naive_utc(v) for v in values.values()))
            cur.fetchall()

    def _stream(self, con: pg.Connection, sql: str, label: str) -> Iterator[pa.RecordBatch]:
        try:
            with con.cursor() as cur:
                # the driver's batches in bytes: about batch_rows rows (~200 bytes each), at most 16 MiB
                hint = min(16 << 20, self.config.batch_rows * 200)
                cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(hint)})
                cur.execute(sql)
                yield from cur.fetch_record_batch()
        except adbc_driver_manager.Error as exc:
            reason = self.dsn.scrub(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
            error = SourceAuthError if getattr(exc, "sqlstate", None) == "42501" else SourceUnavailable
            raise error(SOURCE, f"failed to read ({reason})", self._where, label) from None


def from_config(section: LiteLLMPostgresConfig, app) -> LiteLLMPostgres:
    """The registry's factory: the adapter of `[requests]`, replicas mapped by `[[resource_map]]`,
    unrouted requests by `[models]`."""
    return LiteLLMPostgres(section, SpendLogMapping(ResourceMap(app.resource_map), app.models, section.model_field))

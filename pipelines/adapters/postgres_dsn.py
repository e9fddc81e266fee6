"""A PostgreSQL DSN as an operator gives it, made safe to connect with and to show.

- `describe`: `host:port/database`, never the role or the password.
- `read_only`: the DSN with `default_transaction_read_only=on` added to libpq's `options`
  (every transaction of the session is read-only, whatever the role may do), a connect
  timeout (a host that drops packets fails in seconds, not minutes) and an application name.
- LiteLLM's `DATABASE_URL` is a Prisma URL: Prisma reads `schema`, `connection_limit`,
  `pool_timeout`, `pgbouncer`, … from its query string, and libpq refuses them ("invalid URI
  query parameter"). They are dropped; `schema` names the schema the table lives in.
- `connect_error`: a libpq connection failure as one line without the DSN, the role or the
  password, and whether it is a refusal (auth) or an outage.

Both libpq forms are accepted: URIs (`postgresql://…`) and `key=value` strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

READ_ONLY_OPTION = "-c default_transaction_read_only=on"
# Prisma's own URL arguments (prisma.io docs, "PostgreSQL database connector → Arguments").
PRISMA_ONLY = frozenset({"schema", "connection_limit", "pool_timeout", "pgbouncer", "socket_timeout",
                         "statement_cache_size", "sslaccept", "sslidentity", "sslpassword"})
_KEY_VALUE = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
_AUTH_REFUSALS = ("password authentication failed", "no pg_hba.conf entry", "does not exist for user",
                  "role", "authentication failed", "no password supplied", "permission denied")


@dataclass(frozen=True)
class Dsn:
    raw: str

    @property
    def _is_uri(self) -> bool:
        return self.raw.startswith(("postgresql://", "postgres://"))

    def _parts(self) -> dict[str, str]:
        if self._is_uri:
            url = urlsplit(self.raw)
            host = url.hostname or "localhost"
            try:
                port = str(url.port or 5432)
            except ValueError:
                port = "?"
            return {"host": host, "port": port, "dbname": unquote(url.path.lstrip("/")) or "postgres",
                    **{k: v for k, v in parse_qsl(url.query)}}
        pairs = {k: v.strip("'") for k, v in _KEY_VALUE.findall(self.raw)}
        return {"host": "localhost", "port": "5432", "dbname": pairs.get("user", "postgres"), **pairs}

    def describe(self) -> str:
        parts = self._parts()
        return f"{parts['host']}:{parts['port']}/{parts['dbname']}"

    @property
    def schema(self) -> str | None:
        """The schema Prisma's `?schema=` names, if any."""
        return self._parts().get("schema") if self._is_uri else None

    @property
    def password(self) -> str | None:
        if self._is_uri:
            url = urlsplit(self.raw)
            return unquote(url.password) if url.password else self._parts().get("password")
        return self._parts().get("password")

    def read_only(self, *, connect_timeout_s: int, application: str = "invoice-true") -> str:
        if self._is_uri:
            url = urlsplit(self.raw)
            query = [(k, v) for k, v in parse_qsl(url.query) if k not in PRISMA_ONLY]
            options = " ".join(v for k, v in query if k == "options")
            query = [(k, v) for k, v in query if k not in ("options", "connect_timeout", "application_name")]
            query += [("options", f"{options} {READ_ONLY_OPTION}".strip()),
                      ("connect_timeout", str(connect_timeout_s)), ("application_name", application)]
            # libpq reads "+" in a URI literally: spaces must be %20 (quote, not quote_plus)
            return urlunsplit((url.scheme, url.netloc, url.path, urlencode(query, quote_via=quote), url.fragment))
        extra = f"options='{READ_ONLY_OPTION}' connect_timeout={connect_timeout_s} application_name={application}"
        return f"{self.raw} {extra}"

    def scrub(self, text: str) -> str:
        """`text` with the password (and the DSN itself) removed, on one line."""
        for secret in (self.raw, self.password):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())


def connect_error(dsn: Dsn, exc: Exception) -> tuple[bool, str]:
    """(is it a refusal of the login?, the reason in a few words) of a failed connect."""
    text = str(exc)
    text = re.sub(r"^\w+: \[libpq\] (Failed to connect: )?", "", text.strip())
    first = text.splitlines()[0] if text else exc.__class__.__name__
    first = re.sub(r'^connection to server at "[^"]*"(, port \d+)? failed: ', "", first)
    first = re.sub(r"^FATAL:\s+", "", first)
    first = re.sub(r' for user "[^"]*"', "", first)
    first = re.sub(r'role "[^"]*"', "the role", first)
    refused = any(marker in first for marker in _AUTH_REFUSALS)
    return refused, dsn.scrub(first)

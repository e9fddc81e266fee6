"""`invoice-true doctor`: is the configuration usable, and does each source answer?

First one line on the configuration (where it came from, the adapters chosen, the map), then
one line per configured source after its adapter's `probe()` (connect, authenticate, one small
read of the last hour):

    requests    litellm_postgres  db.example:5432/litellm  OK  1,234 rows in the last hour, newest 2026-11-30T10:59:58Z
    billing     snapshots_api     billing.example/v1/billing/snapshots  FAILED  billing API refused the token (401) ...

Exit 0 when every source is OK, else 1; a configuration that cannot be used prints its one
line and exits 1. Doctor never prints a secret: every line is scrubbed of the values of the
variables the `*_env` keys name (and of the credentials inside URL-shaped ones), whatever an
adapter or its driver put in an error message.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

import httpx

from pipelines.adapters import ROLES, build_adapter
from pipelines.adapters.base import probe_at
from pipelines.config import AppConfig, ConfigError, load_config

OK, FAILED = 0, 1
ROLE_WIDTH = max(len(role) for role in ROLES)
ADAPTER_WIDTH = len("litellm_postgres")
HIDDEN = "***"


def run_doctor(*, now: datetime | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config()
    except ConfigError as exc:
        print(exc, file=err)  # names keys and variables, never their values
        return FAILED
    secrets = secret_values(config)
    print(scrub(config_line(config), secrets), file=out)
    code = OK
    for role, section in config.sources().items():
        where, status, found = "-", "OK", ""
        try:
            adapter = build_adapter(role, section, config)
            where = adapter.describe()
            with probe_at(now):
                found = adapter.probe()
        except Exception as exc:  # noqa: BLE001 - every source gets its line, whatever one of them raised
            status, found, code = "FAILED", one_line(exc), FAILED
        line = f"{role:<{ROLE_WIDTH}}  {section.adapter:<{ADAPTER_WIDTH}}  {where}  {status}  {found}"
        print(scrub(line, secrets), file=out)
    return code


def config_line(config: AppConfig) -> str:
    chosen = " ".join(f"{role}={section.adapter}" for role, section in config.sources().items())
    entries, models = len(config.resource_map), len(config.models)
    return (
        f"{'config':<{ROLE_WIDTH}}  {config.origin}  {chosen}  "
        f"{entries} resource map entr{'y' if entries == 1 else 'ies'}, {models} model{'' if models == 1 else 's'}"
    )


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def secret_values(config: AppConfig) -> list[str]:
    """What must never be printed: the value of every variable a `*_env` key names, except the
    URLs (which doctor shows by host), and the credentials inside any URL-shaped value."""
    found: set[str] = set()
    for section in config.sources().values():
        for key, name in section.env_keys().items():
            value = section.env_value(key)
            if not value:
                continue
            if key != "url_env":
                found.add(value)
            found.update(_url_credentials(value))
    # Longest first, so a DSN is hidden whole before its password alone is looked for.
    return sorted((s for s in found if s), key=len, reverse=True)


def _url_credentials(value: str) -> list[str]:
    if "://" not in value:
        return []
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError):
        return [value]  # unreadable as a URL: hide it whole
    userinfo = url.userinfo.decode(errors="replace")  # as written (percent-encoded)
    parts = [userinfo, userinfo.partition(":")[2], url.password or ""]  # and the password decoded
    return [p for p in parts if p and p != (url.username or "")]


def scrub(line: str, secrets: list[str]) -> str:
    for secret in secrets:
        line = line.replace(secret, HIDDEN)
    return line

"""A bad configuration in one line naming the file and the key (DESIGN.md "Configuration file").

pydantic reports a list of errors located by tuples such as ('requests', 'litellm_postgres',
'dsn_env') or ('resource_map', 2, 'valid_from'); `first_problem` words the first one as a person
reads the file: `[requests] dsn_env is missing (adapter litellm_postgres)`,
`[[resource_map]] entry 3 (litellm http://10.0.4.17:8000/v1): valid_from is after valid_to`.
Values from the file are echoed only where they cannot be a secret (numbers, booleans, the
adapter's name); a string could be a URL with a password pasted in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

SECTIONS = ("requests", "billing", "events", "crosscheck")
TABLE_TYPES = {"model_type", "model_attributes_type", "dict_type"}


class ConfigError(Exception):
    """The configuration cannot be used. `str()` is one line: where (file or environment) and the key."""


def word_validation_error(
    exc: ValidationError, data: dict[str, Any], adapters: dict[str, list[str]], env_names: dict[str, str]
) -> str:
    """The first problem of `exc` in the file's terms, with a count of the others.

    `adapters`: the adapter names each section accepts; `env_names`: {[checks] field: the
    INVOICE_TRUE_* variable that set it}, so an override from the environment is named as such."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "literal_error" and tuple(first["loc"])[1:] == ("adapter",):
        # A section of one possible adapter: its other keys' errors only follow from the wrong name.
        errors = [e for e in errors if e["loc"][:1] != first["loc"][:1]] + [first]
        errors.insert(0, errors.pop())
    text = _word(first, data, adapters, env_names)
    return text + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")


def _word(error: dict[str, Any], data: dict[str, Any], adapters: dict[str, list[str]], env: dict[str, str]) -> str:
    loc, kind = tuple(error["loc"]), error["type"]
    message = _message(error)
    if not loc:  # a rule across entries (AppConfig's validators) words its own location
        return message
    head, rest = loc[0], list(loc[1:])
    if head in SECTIONS:
        where, names = f"[{head}]", adapters.get(head, [])
        section = data.get(head)
        given = section.get("adapter") if isinstance(section, dict) else None
        if kind in ("union_tag_invalid", "literal_error") and rest[-1:] in ([], ["adapter"]):
            return f'{where} adapter "{given}" is not one of {", ".join(names)}'
        if kind == "union_tag_not_found" or (kind == "missing" and rest == ["adapter"]):
            return f"{where} adapter is missing (one of {', '.join(names)})"
        if rest and rest[0] == given:  # a discriminated union puts the tag in the location
            rest = rest[1:]
        suffix = f" (adapter {given})" if given else ""
    elif head == "resource_map":
        where, suffix = "[[resource_map]]", ""
        if rest and isinstance(rest[0], int):
            where += f" entry {rest[0] + 1}{_entry_label(data, rest[0])}"
            rest = rest[1:]
            if not rest:
                where += ":"
    elif head == "checks" and rest and rest[0] in env:
        where, rest, suffix = env[rest[0]] + ":", rest[1:], ""
    elif head in ("models", "accounting", "checks"):
        where, suffix = f"[{head}]", ""
        if head == "models" and rest:
            rest = [f'"{rest[0]}"']
    else:
        return f"unknown section [{head}]" if kind == "extra_forbidden" else f"{head}: {message}"
    key = ".".join(str(part) for part in rest)
    if kind == "missing":
        return f"{where} {key} is missing{suffix}"
    if kind == "extra_forbidden":
        return f"{where} unknown key {key}{suffix}"
    if kind in TABLE_TYPES and not key:
        return f"{where} must be a table"
    if kind == "list_type" and head == "resource_map" and not key:
        return "resource_map must be written as [[resource_map]] tables"
    if kind == "value_error":
        return f"{where} {key} {message}" if key else f"{where} {message}"
    return f"{where} {key}: {message}{_got(error)}" if key else f"{where} {message}{_got(error)}"


def _message(error: dict[str, Any]) -> str:
    text = str(error["msg"]).removeprefix("Value error, ")
    return text[:1].lower() + text[1:] if error["type"] != "value_error" else text


def _got(error: dict[str, Any]) -> str:
    value = error.get("input")
    return f" (got {value})" if isinstance(value, (bool, int, float, Decimal)) else ""


def _entry_label(data: dict[str, Any], index: int) -> str:
    entries = data.get("resource_map")
    entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
    if not isinstance(entry, dict):
        return ""
    parts = [entry[k] for k in ("source", "source_id") if isinstance(entry.get(k), str) and entry[k].strip()]
    return f" ({' '.join(parts)})" if parts else ""

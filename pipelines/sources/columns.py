"""The columns of a canonical source, read once from its pydantic model (models/sources.py).

A model field gives everything the storage and the checks need: its DuckDB and polars types,
whether it may be null, its COMMENT (the field's description), and the rules a value must keep
(`min_length`, `ge`/`le`, a `Literal`'s values, a `pattern`). Nothing about a column is written
twice: the DDL, the COMMENTs, the frame schema and the vectorised contract all come from here.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

import annotated_types
import polars as pl
from pydantic import AwareDatetime, BaseModel

# Money and other exact decimals (DESIGN.md "Money is decimal end to end").
DECIMAL_SQL, DECIMAL_PL = "DECIMAL(38,9)", pl.Decimal(38, 9)
INSTANT_SQL, INSTANT_PL = "TIMESTAMPTZ", pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "instant" | "decimal" | "integer" | "float" | "text" | "boolean"
    nullable: bool
    comment: str
    min_length: int | None = None
    ge: int | Decimal | None = None
    le: int | Decimal | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    invalid: str | None = None  # how a value that breaks `pattern` is worded
    default: object = None  # filled in when the wire leaves a non-nullable column out

    @property
    def sql_type(self) -> str:
        return {"instant": INSTANT_SQL, "decimal": DECIMAL_SQL, "integer": "BIGINT", "float": "DOUBLE",
                "text": "VARCHAR", "boolean": "BOOLEAN"}[self.kind]

    @property
    def polars_type(self) -> pl.DataType:
        return {"instant": INSTANT_PL, "decimal": DECIMAL_PL, "integer": pl.Int64, "float": pl.Float64,
                "text": pl.String, "boolean": pl.Boolean}[self.kind]


@cache
def columns_of(model: type[BaseModel]) -> tuple[Column, ...]:
    return tuple(_column(name, field) for name, field in model.model_fields.items())


def _column(name: str, field) -> Column:
    annotation, nullable = _unwrap_optional(field.annotation)
    choices = tuple(typing.get_args(annotation)) if typing.get_origin(annotation) is typing.Literal else None
    kind = "text" if choices else _kind(annotation)
    rules: dict = {}
    for meta in field.metadata:
        if isinstance(meta, annotated_types.MinLen):
            rules["min_length"] = meta.min_length
        elif isinstance(meta, annotated_types.Ge):
            rules["ge"] = meta.ge
        elif isinstance(meta, annotated_types.Le):
            rules["le"] = meta.le
        elif getattr(meta, "pattern", None):
            rules["pattern"] = meta.pattern
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    default = field.default if not field.is_required() and field.default is not None else None
    return Column(name, kind, nullable, field.description or "", choices=choices,
                  invalid=extra.get("invalid"), default=default, **rules)


def _unwrap_optional(annotation) -> tuple[object, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return (args[0] if len(args) == 1 else annotation), len(args) < len(typing.get_args(annotation))
    return annotation, False


def _kind(annotation) -> str:
    if annotation is AwareDatetime:
        return "instant"
    if isinstance(annotation, type):
        if issubclass(annotation, datetime):
            return "instant"
        if issubclass(annotation, bool):
            return "boolean"
        if issubclass(annotation, Decimal):
            return "decimal"
        if issubclass(annotation, int):
            return "integer"
        if issubclass(annotation, float):
            return "float"
        if issubclass(annotation, str):
            return "text"
    raise TypeError(f"no column type for the annotation {annotation!r}")

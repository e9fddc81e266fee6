"""The SQL models' run order (pipelines/sql_models.py): each model after the models it reads, derived
once per change of the files and kept in the user's cache folder."""

import json

import pytest

from pipelines import sql_models


@pytest.mark.parametrize("folder, before, after", [
    ("intermediate", "intermediate/int_timeline_segments.sql", "intermediate/int_request_seconds.sql"),
    ("marts", "marts/cost_per_mtok_daily.sql", "marts/band_check.sql"),
])
def test_each_model_runs_after_every_model_whose_table_it_reads(folder, before, after):
    order = sql_models.ordered(folder)
    writer = {table: model for model in order for table in sql_models.references(model)[0]}
    for position, model in enumerate(order):
        for table in sql_models.references(model)[1]:
            if table in writer:
                assert order.index(writer[table]) < position, f"{model} reads {table} before {writer[table]} writes it"
    assert order.index(before) < order.index(after)


def test_the_order_is_derived_once_and_read_back_from_the_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = ("intermediate/int_busy_islands.sql", "intermediate/int_request_seconds.sql")
    derived = sql_models._cached(files, "fp-1")
    (kept,) = (tmp_path / "invoice-true").iterdir()
    assert kept.name == "model-order-fp-1.json" and tuple(json.loads(kept.read_text())) == derived

    def parse_again(*_):
        raise AssertionError("derived again although the cache holds the order")

    monkeypatch.setattr(sql_models, "_ordered", parse_again)
    assert sql_models._cached(files, "fp-1") == derived

    kept.write_text("{not json")  # a damaged entry is derived again, never trusted
    monkeypatch.setattr(sql_models, "_ordered", lambda f, fp: ("derived",))
    assert sql_models._cached(files, "fp-1") == ("derived",)
    assert json.loads(kept.read_text()) == ["derived"]

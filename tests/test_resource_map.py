"""The resource map applied to rows (DESIGN.md "Pinned details → Resource map"), on hand-built frames."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from pipelines.config import ConfigError, ResourceMapEntry, read_config
from pipelines.sources.resource_map import ResourceMap, tier_of_models

A = "http://10.0.4.17:8000/v1"
B = "http://10.0.4.18:8000/v1"


def at(hour: int, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(2026, 10, 28, hour, minute, second, us, tzinfo=timezone.utc)


def entry(source_id: str, resource_id: str, **fields) -> ResourceMapEntry:
    return ResourceMapEntry(source="litellm", source_id=source_id, resource_id=resource_id, **fields)


def apply(entries: list[ResourceMapEntry], ids: list[str | None], instants: list[datetime | None], **frame_columns):
    frame = pl.DataFrame(
        {"api_base": ids, "received_at": instants, **frame_columns},
        schema_overrides={"api_base": pl.String, "received_at": pl.Datetime("us", "UTC")},
    )
    return ResourceMap(entries).apply(frame, source="litellm", id_column="api_base", at_column="received_at")


def test_a_relaunched_spot_replica_reusing_its_address_maps_to_each_resource_in_its_window():
    entries = [
        entry(A, "gpu-a-spot-1", tier="h100-class", price_model="spot", valid_to=at(12)),
        entry(A, "gpu-a-spot-2", tier="h100-class", price_model="spot", valid_from=at(12)),
    ]
    out = apply(entries, [A, A, A, A], [at(3), at(11, 59, 59, 999_999), at(12), at(23)])
    assert out["resource_id"].to_list() == ["gpu-a-spot-1", "gpu-a-spot-1", "gpu-a-spot-2", "gpu-a-spot-2"]
    assert out["_problem_reason"].to_list() == [None] * 4


def test_before_the_first_window_and_between_two_windows_an_address_is_unmapped():
    entries = [
        entry(A, "gpu-a-spot-1", valid_from=at(10), valid_to=at(12)),
        entry(A, "gpu-a-spot-2", valid_from=at(12, 30)),
    ]
    out = apply(entries, [A, A, A, A], [at(9), at(11), at(12, 15), at(12, 30)])
    assert out["resource_id"].to_list() == [None, "gpu-a-spot-1", None, "gpu-a-spot-2"]
    assert out["_problem_reason"].to_list() == [
        f"unmapped_resource: litellm id {A} is not mapped at 2026-10-28T09:00:00Z",
        None,
        f"unmapped_resource: litellm id {A} is not mapped at 2026-10-28T12:15:00Z",
        None,
    ]


def test_validity_is_half_open_the_end_instant_is_outside():
    entries = [entry(A, "gpu-a", valid_from=at(10), valid_to=at(11))]
    out = apply(entries, [A, A, A, A], [at(9, 59, 59, 999_999), at(10), at(10, 59, 59), at(11)])
    assert out["resource_id"].to_list() == [None, "gpu-a", "gpu-a", None]
    assert out["_problem_field"].to_list() == ["resource_id", None, None, "resource_id"]
    assert out["_problem_reason"].to_list() == [
        f"unmapped_resource: litellm id {A} is not mapped at 2026-10-28T09:59:59.999999Z",
        None,
        None,
        f"unmapped_resource: litellm id {A} is not mapped at 2026-10-28T11:00:00Z",
    ]


def test_ids_match_exactly_a_trailing_slash_is_another_id():
    out = apply([entry(A, "gpu-a")], [A + "/", A, A.upper()], [at(1), at(1), at(1)])
    assert out["resource_id"].to_list() == [None, "gpu-a", None]
    assert out["_problem_reason"].to_list() == [
        f"unmapped_resource: litellm id {A}/ is not mapped at 2026-10-28T01:00:00Z",
        None,
        f"unmapped_resource: litellm id {A.upper()} is not mapped at 2026-10-28T01:00:00Z",
    ]


def test_a_null_empty_or_blank_id_is_unrouted_not_a_problem():
    out = apply([entry(A, "gpu-a")], [None, "", "   ", A], [at(1)] * 4)
    assert out["resource_id"].to_list() == [None, None, None, "gpu-a"]
    assert out["_problem_field"].to_list() == [None] * 4


def test_several_ids_may_map_to_one_resource_and_carry_its_properties():
    entries = [
        entry(A, "gpu-a", tier="h100-class", gpu_type="H100-SXM-80GB", gpu_count=2, price_model="on_demand"),
        entry("http://gpu-a.internal:8000/v1", "gpu-a", tier="h100-class", gpu_type="H100-SXM-80GB", gpu_count=2,
              price_model="on_demand"),
        entry(B, "gpu-b", tier="l40s-class"),
    ]
    out = apply(entries, [A, "http://gpu-a.internal:8000/v1", B], [at(1), at(2), at(3)])
    assert out.select("resource_id", "map_tier", "map_gpu_type", "map_gpu_count", "map_price_model").rows() == [
        ("gpu-a", "h100-class", "H100-SXM-80GB", 2, "on_demand"),
        ("gpu-a", "h100-class", "H100-SXM-80GB", 2, "on_demand"),
        ("gpu-b", "l40s-class", None, None, None),
    ]


def test_rows_keep_their_order_and_an_earlier_problem_stands():
    entries = [entry(A, "gpu-a-1", valid_to=at(12)), entry(A, "gpu-a-2", valid_from=at(12)), entry(B, "gpu-b")]
    out = apply(
        entries,
        [A, B, A, "http://10.0.9.9:8000/v1", "http://10.0.9.9:8000/v1"],
        [at(20), at(5), at(1), at(6), at(7)],
        _row=[1, 2, 3, 4, 5],
        _problem_field=[None, None, None, None, "received_at"],
        _problem_reason=[None, None, None, None, "received_at is outside the fetched window"],
    )
    assert out["_row"].to_list() == [1, 2, 3, 4, 5]
    assert out["resource_id"].to_list() == ["gpu-a-2", "gpu-b", "gpu-a-1", None, None]
    assert out["_problem_reason"].to_list()[3:] == [
        "unmapped_resource: litellm id http://10.0.9.9:8000/v1 is not mapped at 2026-10-28T06:00:00Z",
        "received_at is outside the fetched window",
    ]


def test_an_id_of_another_source_does_not_map_and_naive_instants_are_utc():
    entries = [ResourceMapEntry(source="otel", source_id=A, resource_id="gpu-a")]
    frame = pl.DataFrame({"api_base": [A], "startTime": [datetime(2026, 10, 28, 10)]})  # no zone: UTC
    out = ResourceMap(entries).apply(frame, source="litellm", id_column="api_base", at_column="startTime")
    assert out["resource_id"].to_list() == [None]
    assert out["_problem_reason"].to_list() == [
        f"unmapped_resource: litellm id {A} is not mapped at 2026-10-28T10:00:00Z"
    ]
    out = ResourceMap(entries).apply(frame, source="otel", id_column="api_base", at_column="startTime",
                                     problem_field="resource_attribute")
    assert out["resource_id"].to_list() == ["gpu-a"]


def test_a_row_without_its_instant_is_left_to_the_contract():
    out = apply([entry(A, "gpu-a")], [A], [None])
    assert out["resource_id"].to_list() == [None]
    assert out["_problem_field"].to_list() == [None]


def test_overlapping_windows_of_one_id_are_a_configuration_error(tmp_path):
    path = tmp_path / "invoice-true.toml"
    path.write_text(
        "[events]\nadapter = \"none\"\n"
        f'[[resource_map]]\nsource = "litellm"\nsource_id = "{B}"\nresource_id = "gpu-b"\n'
        f'[[resource_map]]\nsource = "litellm"\nsource_id = "{A}"\nresource_id = "gpu-a-1"\n'
        'valid_from = "2026-10-01T00:00:00Z"\nvalid_to = "2026-11-01T00:00:00Z"\n'
        f'[[resource_map]]\nsource = "litellm"\nsource_id = "{A}"\nresource_id = "gpu-a-2"\n'
        'valid_from = "2026-10-31T00:00:00Z"\n'
    )
    with pytest.raises(ConfigError) as raised:
        read_config(path)
    assert str(raised.value) == (
        f"{path}: [[resource_map]] entries 2 and 3 (litellm {A}): validity windows "
        "[2026-10-01T00:00:00Z, 2026-11-01T00:00:00Z) and [2026-10-31T00:00:00Z, …) overlap"
    )


def test_windows_that_touch_do_not_overlap_and_the_same_id_of_two_sources_is_two_ids():
    from pipelines.config import AppConfig

    config = AppConfig(resource_map=[
        entry(A, "gpu-a-1", valid_to=at(12)), entry(A, "gpu-a-2", valid_from=at(12)),
        ResourceMapEntry(source="prometheus", source_id=A, resource_id="gpu-a-1"),
    ])
    assert len(config.resource_map) == 3


def test_an_unrouted_request_takes_the_tier_of_its_model_and_an_unknown_model_is_quarantined():
    frame = pl.DataFrame({
        "model": ["llama-70b", "qwen-32b", "llama-70b", "llama-70b", None],
        "resource_id": [None, None, "gpu-a", None, None],
        "tier": [None, None, "l40s-class", None, None],
        "_problem_field": [None, None, None, "resource_id", None],
        "_problem_reason": [None, None, None, "unmapped_resource: litellm id x is not mapped at …", None],
    }, schema_overrides={"resource_id": pl.String, "tier": pl.String})
    out = tier_of_models(frame, {"llama-70b": "h100-class"}, "model")
    assert out["tier"].to_list() == ["h100-class", None, "l40s-class", None, None]
    assert out["_problem_field"].to_list() == [None, "model", None, "resource_id", None]
    assert out["_problem_reason"].to_list()[:2] == [
        None, "unmapped_model: model qwen-32b of an unrouted request is not in [models]"
    ]

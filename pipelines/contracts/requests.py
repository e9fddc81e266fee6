"""Contract of raw.requests (DESIGN.md "Sources", rules 5 and 9), in scope by finished_at.

At 10 M rows a pandas batch is too large (about 4 GB and minutes of GX); above
``max_pandas_rows`` the same rules run as DuckDB SQL (see core.py).
"""

from __future__ import annotations

from pipelines.contracts.core import AtLeastColumn, Batch, Between, NonEmpty, NotNull, Suite, Unique
from pipelines.contracts.settings import CheckSettings


def suite(settings: CheckSettings) -> Suite:
    rows = Batch(
        "requests",
        """
        SELECT row_number() OVER () AS _row,  -- table order: numbering 10 M rows by a sort costs a second
            request_id, received_at, first_token_at, finished_at, model, tier, resource_id, status,
            prompt_tokens, completion_tokens, cached_tokens
        FROM raw.requests
        WHERE finished_at >= $scope_start AND finished_at < $scope_end""",
        rules=(
            NotNull("request_id present", column="request_id"),
            NonEmpty("request_id not empty", column="request_id"),
            Unique("request_id unique after dedupe", key=("request_id",)),
            NotNull("received_at present", column="received_at"),
            NotNull("finished_at present", column="finished_at"),
            NotNull("model present", column="model"),
            NotNull("tier present", column="tier"),
            AtLeastColumn("finished_at >= received_at", column_a="finished_at", column_b="received_at"),
            Between("prompt_tokens >= 0", column="prompt_tokens", min_value=0),
            Between("completion_tokens >= 0", column="completion_tokens", min_value=0),
            Between("cached_tokens >= 0", column="cached_tokens", min_value=0),
            Between("status is an HTTP status", column="status", min_value=100, max_value=599),
        ),
        example_columns=("request_id", "received_at", "finished_at", "resource_id", "completion_tokens"),
        key=("request_id",),
        noun="request",
    )
    return Suite("raw.requests", "finished_at", (rows,))

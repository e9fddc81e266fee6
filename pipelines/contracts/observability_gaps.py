"""Contract of marts.observability_gaps (DESIGN.md rule 3): gaps overlapping the scope.

How long a gap may be is the dark-billing check's business (pipelines/defs/checks/observability.py);
this contract only says each row is well formed.
"""

from __future__ import annotations

from pipelines.contracts.core import AtLeastColumn, Batch, Between, IsNull, NotNull, Suite, Unique
from pipelines.contracts.settings import CheckSettings


def suite(settings: CheckSettings) -> Suite:
    rows = Batch(
        "gaps",
        """
        SELECT row_number() OVER (ORDER BY gap_start, resource_id) AS _row,
            resource_id, gap_start, gap_end, seconds, gap_end IS NOT NULL AS is_closed,
            CASE WHEN gap_end IS NOT NULL
                 THEN seconds - (epoch_us(gap_end) - epoch_us(gap_start)) / 1000000 END AS seconds_residual
        FROM marts.observability_gaps
        WHERE gap_start < $scope_end AND coalesce(gap_end, $scope_end) > $scope_start""",
        rules=(
            NotNull("resource_id present", column="resource_id"),
            Unique("one row per (resource_id, gap_start)", key=("resource_id", "gap_start")),
            AtLeastColumn("gap_end >= gap_start", column_a="gap_end", column_b="gap_start"),
            Between("seconds > 0", column="seconds", min_value=1e-6),
            NotNull("seconds present where the gap is closed", column="seconds", where="is_closed == True"),
            IsNull("seconds null while the stretch is open", column="seconds", where="is_closed == False"),
            Between("seconds = gap_end - gap_start", column="seconds_residual", min_value=0, max_value=0),
        ),
        example_columns=("resource_id", "gap_start", "gap_end", "seconds"),
        key=("resource_id", "gap_start"),
        noun="gap",
    )
    return Suite("marts.observability_gaps", "gap_start..gap_end", (rows,))

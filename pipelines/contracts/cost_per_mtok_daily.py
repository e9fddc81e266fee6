"""Contract of marts.cost_per_mtok_daily (DESIGN.md rules 6 and 7), in scope by day."""

from __future__ import annotations

from pipelines.contracts.core import Batch, Between, IsNull, NotNull, Suite, Unique
from pipelines.contracts.settings import CheckSettings

# Finite: a DECIMAL cannot hold inf or NaN, but the ratio is judged as the double a reader
# gets; any real $/Mtok is far below this.
FINITE_BOUND = 1e15


def suite(settings: CheckSettings) -> Suite:
    rows = Batch(
        "tier_model_days",
        """
        SELECT row_number() OVER (ORDER BY day, tier, model) AS _row,
            day, tier, model, spend, completion_tokens, prompt_tokens, requests, usd_per_mtok,
            idle_fraction, billing_complete
        FROM marts.cost_per_mtok_daily
        WHERE day >= CAST($scope_start AS DATE) AND day < CAST($scope_end AS DATE)""",
        rules=(
            NotNull("tier present", column="tier"),
            NotNull("model present", column="model"),
            Unique("one row per (day, tier, model)", key=("day", "tier", "model")),
            Between("spend >= 0", column="spend", min_value=0),
            Between("completion_tokens >= 0", column="completion_tokens", min_value=0),
            Between("prompt_tokens >= 0", column="prompt_tokens", min_value=0),
            NotNull("usd_per_mtok present where completion tokens > 0", column="usd_per_mtok",
                    where="completion_tokens > 0"),
            Between("usd_per_mtok finite and >= 0 where completion tokens > 0", column="usd_per_mtok",
                    min_value=0, max_value=FINITE_BOUND, where="completion_tokens > 0"),
            IsNull("usd_per_mtok null where completion tokens = 0", column="usd_per_mtok",
                   where="completion_tokens == 0"),
            Between("idle_fraction in [0, 1]", column="idle_fraction", min_value=0, max_value=1),
        ),
        example_columns=("day", "tier", "model", "spend", "completion_tokens", "usd_per_mtok"),
        key=("tier", "model", "day"),
        noun="tier-model-day",
    )
    return Suite("marts.cost_per_mtok_daily", "day", (rows,))

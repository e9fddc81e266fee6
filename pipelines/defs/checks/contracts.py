"""Data contracts run as asset checks: one `contract` check per table, its Great Expectations
suite (pipelines/contracts/) over the rows of the run's partition range."""


from collections.abc import Iterator

import dagster as dg

from pipelines.config import load_config
from pipelines.contracts import SUITES, CheckSettings, SuiteOutcome, run_suite
from pipelines.contracts.explain import explain_contract
from pipelines.defs.checks.common import POOL, Scope, md_table, recorded, scope_days, scope_of
from pipelines.defs.resources import Warehouse

CHECK = "contract"
DESCRIPTIONS = {
    ("raw", "billing_snapshots"): "Contract (a Great Expectations suite, run as its SQL twin unless contract_engine = gx) on the samples of the range: ids present, "
    "one sample per (resource, instant), cumulative >= 0, known states, one currency, the cumulative never "
    "falls within a billing period (warning per fall), at most N falls per resource-day (error).",
    ("raw", "requests"): "Contract (a Great Expectations suite, run as its SQL twin unless contract_engine = gx) on the requests finished in the range: request_id "
    "present and unique after dedupe, tokens >= 0, finished_at >= received_at, HTTP status. Above "
    "max_pandas_rows the same rules run as DuckDB SQL.",
    ("raw", "fleet_events"): "Contract (a Great Expectations suite, run as its SQL twin unless contract_engine = gx) on the fleet events of the range: ids present, "
    "known events, one row per (resource, at, event).",
    ("marts", "resource_hourly"): "Contract (a Great Expectations suite, run as its SQL twin unless contract_engine = gx) on the resource-hours of the range: one row per "
    "(hour, resource), busy + idle + waking = running and spend parts = spend exactly, nothing negative, "
    "idle fraction in [0, 1].",
    ("marts", "cost_per_mtok_daily"): "Contract (a Great Expectations suite, run as its SQL twin unless contract_engine = gx) on the tier-model-days of the range: "
    "usd_per_mtok finite and present where completion tokens > 0 and null where there are none, "
    "nothing negative, one row per (day, tier, model).",
    ("marts", "observability_gaps"): "Contract (a Great Expectations suite, run as its SQL twin unless contract_engine = gx) on the gaps overlapping the range: well "
    "formed (end after start, seconds = end - start, open stretches have no length yet).",
}


def contract_result(con, key: tuple[str, str], scope: Scope, settings: CheckSettings) -> dg.AssetCheckResult:
    """The table's suite over the scope, explained (pipelines/contracts/explain.py)."""
    suite = SUITES[key](settings)
    outcome = run_suite(
        con, suite, (scope.start, scope.end), max_pandas_rows=settings.max_pandas_rows, examples=settings.examples,
        engine="auto" if settings.contract_engine == "gx" else "sql",
    )
    finding = explain_contract(con, suite, outcome, (scope.start, scope.end))
    return finding.check_result(contract_metadata(outcome, scope))


def contract_metadata(outcome: SuiteOutcome, scope: Scope) -> dict[str, dg.MetadataValue]:
    failed = outcome.failed
    summary = [
        {"severity": o.severity, "batch": o.batch, "expectation": o.rule,
         "unexpected": o.unexpected if o.unexpected is not None else f"observed {o.observed}",
         "of rows": o.checked_rows}
        for o in failed
    ]
    examples = "\n\n".join(f"**{o.rule}** ({o.batch})\n\n{md_table(o.examples)}" for o in failed if o.examples)
    return {
        "scope": dg.MetadataValue.text(scope.label),
        "table": dg.MetadataValue.text(outcome.table),
        "engine": dg.MetadataValue.json(outcome.engine),
        "rows_checked": dg.MetadataValue.json(outcome.rows),
        "expectations": dg.MetadataValue.int(len(outcome.outcomes)),
        "failed_expectations": dg.MetadataValue.int(len(failed)),
        "failures": dg.MetadataValue.md(md_table(summary)),
        "examples_by_expectation": dg.MetadataValue.md(examples or "(none)"),
        "unexpected_by_expectation": dg.MetadataValue.json(
            {o.rule: o.unexpected if o.unexpected is not None else o.observed for o in failed}
        ),
        "seconds": dg.MetadataValue.float(round(outcome.seconds, 3)),
    }


def _contract_checks(layer: str) -> dg.AssetChecksDefinition:
    keys = [key for key in SUITES if key[0] == layer]

    @dg.multi_asset_check(
        name=f"{layer}_contracts",
        specs=[
            dg.AssetCheckSpec(CHECK, asset=dg.AssetKey(list(key)), description=DESCRIPTIONS[key], blocking=False)
            for key in keys
        ],
        can_subset=True,
        pool=POOL,
    )
    def checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[dg.AssetCheckResult]:
        scope = scope_of(context)
        settings = load_config().checks
        selected = {tuple(k.asset_key.path) for k in context.selected_asset_check_keys}
        with warehouse.connect() as con:
            if layer == "raw":
                warehouse.attach_lake(con, *scope_days(scope))
            for key in keys:
                if key in selected:
                    result = recorded(context, warehouse, contract_result(con, key, scope, settings))
                    context.log.debug(
                        f"{'/'.join(key)} contract: {'passed' if result.passed else 'FAILED'} in "
                        f"{result.metadata['seconds'].value:.2f} s"
                    )
                    yield result

    return checks


# One step per layer, so Great Expectations (contract_engine = "gx") is imported once per step (3-5 s).
raw_contracts = _contract_checks("raw")
marts_contracts = _contract_checks("marts")

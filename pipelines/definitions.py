"""The Dagster code location: every asset, check, job and schedule under `pipelines/defs`."""

from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import run_executor
from pipelines.defs.resources import resources_from_env


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs")
    # The executor serves ad-hoc materialisations too (the asset graph in the UI, `dagster asset
    # materialize`), so they run the way INVOICE_TRUE_EXECUTOR says, like the daily job.
    return dg.Definitions.merge(loaded, dg.Definitions(resources=resources_from_env(), executor=run_executor()))

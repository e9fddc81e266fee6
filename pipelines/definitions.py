"""The Dagster code location: every asset, check, job and schedule under `pipelines/defs`."""

from functools import cache
from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import run_executor
from pipelines.defs.resources import resources_from_env


@cache
def _folder() -> dg.Definitions:
    """The folder's assets, checks, jobs and schedules. Python imports its modules once per process,
    so loading it again would only return the same objects (0.1 s a run); it is loaded when this
    module is imported, so a forkserver that preloads this module (the multiprocess executor's) hands
    every step process the project's modules already imported."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs")


_folder()


@dg.definitions
def defs() -> dg.Definitions:
    # The executor serves ad-hoc materialisations too (the asset graph in the UI, `dagster asset
    # materialize`), so they run the way INVOICE_TRUE_EXECUTOR says, like the daily job.
    return dg.Definitions.merge(_folder(), dg.Definitions(resources=resources_from_env(), executor=run_executor()))

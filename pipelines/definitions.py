"""The Dagster code location: every asset, check, job and schedule under `pipelines/defs`."""

from pathlib import Path

import dagster as dg

from pipelines.defs.resources import resources_from_env


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs")
    return dg.Definitions.merge(loaded, dg.Definitions(resources=resources_from_env()))

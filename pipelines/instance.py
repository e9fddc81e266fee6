"""The Dagster instance the command line runs in, and a quiet command line around it.

With DAGSTER_HOME set, runs are recorded in that instance (so the UI shows them); a folder with
no `dagster.yaml` gets the project's (`deploy/dagster.yaml`: the warehouse pool, run limits,
telemetry off), the same file `make dev` copies, so the CLI and the UI agree. Without
DAGSTER_HOME an ephemeral instance is used, telemetry off too.

Dagster prints a telemetry notice and a welcome to stderr the first time an instance with
telemetry on creates its id, and some APIs warn (BetaWarning, PreviewWarning, ...). None of
that is the operator's business on the command line: `silence_dagster` filters the warnings and
keeps Dagster's loggers at ERROR (INVOICE_TRUE_LOG_LEVEL=INFO shows the run's log again).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import dagster as dg

DEPLOYED_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "dagster.yaml"
# Used where the package runs without its repository around it (no deploy/ folder).
MINIMAL_CONFIG = "telemetry:\n  enabled: false\n"
SETTINGS = {"telemetry": {"enabled": False}}
DAGSTER_WARNINGS = (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning, dg.ConfigArgumentWarning)


def cli_instance() -> dg.DagsterInstance:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return dg.DagsterInstance.ephemeral(settings=SETTINGS)
    write_instance_config(Path(home))
    return dg.DagsterInstance.get()


def write_instance_config(home: Path) -> Path:
    """The project's instance config in `home`, unless it has one (a user's file is theirs)."""
    home.mkdir(parents=True, exist_ok=True)
    existing = [p for p in (home / "dagster.yaml", home / "dagster.yml") if p.exists()]
    if existing:
        return existing[0]
    target = home / "dagster.yaml"
    text = DEPLOYED_CONFIG.read_text() if DEPLOYED_CONFIG.exists() else MINIMAL_CONFIG
    staging = home / ".dagster.yaml.tmp"
    staging.write_text(text)
    os.replace(staging, target)  # two runs starting at once never see half a file
    return target


def silence_dagster() -> None:
    level = os.environ.get("INVOICE_TRUE_LOG_LEVEL", "ERROR")
    logging.getLogger("dagster").setLevel(level)
    logging.getLogger("pipelines").setLevel(level)
    if level.upper() not in ("DEBUG", "INFO"):
        for category in DAGSTER_WARNINGS:
            warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("ignore", module=r"dagster(_[a-z_]+)?(\.|$)")

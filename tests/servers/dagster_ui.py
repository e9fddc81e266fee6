"""`dg dev` for a test: a free loopback port, a scratch DAGSTER_HOME, the embedded demo fleet.

The instance config is `deploy/dagster.yaml` (what `make dev` copies), so the UI a test drives has
the same pools, run queue and telemetry setting as the one users start. No source URL is passed,
so the code location serves the bundled demo fleet (pipelines/defs/resources.py).

`dg dev` runs the webserver, the daemon and a code server as children in its process group.
SIGTERM is not enough to stop them (the daemon shuts its threads down and the processes stay), so
`stop()` sends SIGINT, as a terminal would, waits a little, then kills the whole group.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
INSTANCE_CONFIG = REPO / "deploy" / "dagster.yaml"
# Environment that would point the code location somewhere other than the embedded demo.
NOT_INHERITED = ("BILLING_API_URL", "BILLING_API_TOKEN", "GATEWAY_API_URL", "GATEWAY_API_TOKEN",
                 "DASHBOARD_PATH", "DAGSTER_HOME", "WAREHOUSE_PATH")
LOCATION_STATUS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dg_executable() -> str:
    beside = Path(sys.executable).with_name("dg")  # the venv running the tests, which has the project
    found = str(beside) if beside.exists() else shutil.which("dg")
    if not found:
        raise RuntimeError("no `dg` executable beside the test interpreter or on PATH (pip install -e '.[test]')")
    return found


@dataclass
class DagsterUI:
    folder: Path  # scratch: DAGSTER_HOME, the warehouse and the log live under it
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.folder / "dagster_home"

    @property
    def published(self) -> Path:
        return self.folder / "warehouse" / "invoice_true.duckdb"

    @property
    def log(self) -> Path:
        return self.folder / "dg-dev.log"

    def start(self, timeout_s: float = 240.0) -> DagsterUI:
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(INSTANCE_CONFIG, self.home / "dagster.yaml")
        assert "enabled: false" in (self.home / "dagster.yaml").read_text(), "telemetry must be off in tests"
        # The welcome dialog ("Join the Dagster community") is shown once per DAGSTER_HOME until this
        # file exists (dagster/_core/nux.py). It pops up over whatever the test clicks at a moment that
        # depends on load; a user who dismissed it once has this file.
        (self.home / ".nux").mkdir(exist_ok=True)
        (self.home / ".nux" / "nux.yaml").write_text("seen: 1\n")
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update(DAGSTER_HOME=str(self.home), WAREHOUSE_PATH=str(self.published),
                   VIRTUAL_ENV=sys.prefix, DAGSTER_DISABLE_TELEMETRY="1", NO_COLOR="1")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [dg_executable(), "dev", "--port", str(self.port), "--host", "127.0.0.1",
                 "--log-format", "json"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self._wait_until_loaded(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_loaded(self, timeout_s: float) -> None:
        """Until the webserver answers and the code location has loaded (else the UI shows no job)."""
        deadline, last = time.monotonic() + timeout_s, "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dg dev exited with {self.process.returncode}; log: {self.log}\n{self.tail()}")
            try:
                answer = httpx.post(f"{self.url}/graphql", json={"query": LOCATION_STATUS}, timeout=10).json()
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                loaded = [e for e in entries if e["loadStatus"] == "LOADED"]
                errors = [e["locationOrLoadError"] for e in loaded
                          if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    raise RuntimeError(f"the code location failed to load: {errors[0]['message']}")
                if entries and len(loaded) == len(entries):
                    return
                last = f"locations {[(e['name'], e['loadStatus']) for e in entries]}"
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(1.0)
        raise TimeoutError(f"dg dev at {self.url} not ready after {timeout_s:.0f} s ({last}); log: {self.log}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, grace_s: float = 10.0) -> None:
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the group id is dg's own pid
        try:
            os.killpg(group, signal.SIGINT)
            self.process.wait(timeout=grace_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(group, signal.SIGKILL)  # whatever is left: webserver, daemon, code server, run workers
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.process = None

    def __enter__(self) -> DagsterUI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

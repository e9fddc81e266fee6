"""A real Prometheus over known data, for tests: Debian's `prometheus` and `promtool` (2.42).

No scraping: the samples are written as OpenMetrics, turned into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics FILE DATA_DIR`, and served by a Prometheus started on
a free loopback port in a scratch folder, with no scrape targets. `--storage.tsdb.retention.time`
is long because retention counts back from the newest block and the default (15 d) deletes older
blocks at start-up (tsdb/db.go `BeyondTimeRetention`).

`prometheus_servers` (session scope) starts one server per distinct OpenMetrics text, on demand,
and stops every one at the end of the session by its own process id.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

CONFIG = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"  # nothing to scrape, not even itself
READY_TIMEOUT_S = 60


class PrometheusServer:
    def __init__(self, openmetrics: str, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "prometheus.log"
        self._process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "samples.om").write_text(openmetrics)
        (folder / "prometheus.yml").write_text(CONFIG)
        backfill = subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(folder / "samples.om"),
             str(self.data)],
            capture_output=True, text=True,
        )
        if backfill.returncode != 0:
            raise RuntimeError(f"promtool refused the samples: {backfill.stderr.strip() or backfill.stdout.strip()}")
        self.port, self.url = 0, ""

    def start(self, attempts: int = 3) -> PrometheusServer:
        """Start on a free port; another process can take the port first, so try a few."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except RuntimeError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> PrometheusServer:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                ["prometheus", f"--config.file={self.folder / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.data}", "--storage.tsdb.retention.time=100y",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self._process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus was not ready after {READY_TIMEOUT_S} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prometheus_servers(tmp_path_factory: pytest.TempPathFactory):
    """`serve(openmetrics_text) -> PrometheusServer`, one running server per distinct text."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.fail("Debian's prometheus package is needed (apt-get install prometheus; .ci/run installs it)")
    running: dict[str, PrometheusServer] = {}

    def serve(openmetrics: str) -> PrometheusServer:
        digest = hashlib.sha256(openmetrics.encode()).hexdigest()[:16]
        if digest not in running:
            folder = tmp_path_factory.mktemp(f"prometheus-{digest}")
            running[digest] = PrometheusServer(openmetrics, folder).start()
        return running[digest]

    yield serve
    for server in running.values():
        server.stop()

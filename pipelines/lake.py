"""Raw rows per source and UTC day, as Parquet files with a manifest (DESIGN.md "Storage that grows
with days, nights that don't").

Layout, under the lake root (beside the published file: `<name>.lake/`, or `INVOICE_TRUE_LAKE`):

    <source>/<YYYY-MM-DD>.json                      the day's manifest: which files are current
    <source>/<YYYY-MM-DD>.<id>.rows.parquet         the day's fetch: rows of the window, deduplicated
    <source>/<YYYY-MM-DD>.<id>.quarantine.parquet   what the fetch rejected, with reasons
    <source>/<YYYY-MM-DD>.<id>.edges.parquet        each resource's first and last row of the day

Why Parquet files and a manifest, not a table format: DuckDB here cannot install extensions
(no DuckLake, Delta or Iceberg), Parquet is read by every SQL tool, and a day replaced is one
atomic rename of a small manifest. A fetch writes new files under a fresh id and then replaces
the manifest, so a reader (or a crash) sees the old day or the new day, never half of one. Files
no manifest names any more are removed later (`collect_garbage`), after a grace period, so a
SQL tool still holding the previous published file can finish reading.

A day's rows file holds the whole fetched window (the day and its margins): rows belong to the
UTC day of the source's `day_column` (`_day`); a row read from a neighbour's margin is used only
while its own day has no file (`_stored_for` is the day a file was fetched for). Ingest never
opens the warehouse file, so days are landed side by side by separate processes.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from pipelines.sources.registry import CanonicalSource

MANIFEST_SUFFIX = ".json"
GARBAGE_GRACE_S = 3600.0


@dataclass(frozen=True)
class DayManifest:
    """What is stored for one source and day. `fetched = kept + quarantined + duplicates`."""

    source: str
    day: str  # YYYY-MM-DD
    rows_file: str  # names relative to the source's folder
    quarantine_file: str | None
    edges_file: str | None
    window_start: str
    window_end: str
    adapter: str
    fetched: int
    kept: int
    quarantined: int
    duplicates: int
    written_at: str

    @property
    def day_date(self) -> date:
        return date.fromisoformat(self.day)

    def files(self) -> list[str]:
        return [f for f in (self.rows_file, self.quarantine_file, self.edges_file) if f]


class Lake:
    """A lake root on the local file system."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    def folder(self, source: str) -> Path:
        return self.root / source

    def path(self, source: str, name: str) -> str:
        """A file's full path, as DuckDB and SQL tools read it."""
        return str(self.folder(source) / name)

    def new_file_names(self, source: str, day: date) -> dict[str, str]:
        self.folder(source).mkdir(parents=True, exist_ok=True)
        stem = f"{day.isoformat()}.{uuid.uuid4().hex[:12]}"
        return {kind: f"{stem}.{kind}.parquet" for kind in ("rows", "quarantine", "edges")}

    # -- manifests ---------------------------------------------------------------------------
    def manifest(self, source: str, day: date) -> DayManifest | None:
        path = self.folder(source) / f"{day.isoformat()}{MANIFEST_SUFFIX}"
        try:
            return DayManifest(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def manifests(self, source: str) -> dict[date, DayManifest]:
        """Every stored day of a source. Reads the folder listing and the (small) manifests."""
        folder = self.folder(source)
        if not folder.is_dir():
            return {}
        found = {}
        for path in folder.glob(f"????-??-??{MANIFEST_SUFFIX}"):
            manifest = DayManifest(**json.loads(path.read_text()))
            found[manifest.day_date] = manifest
        return dict(sorted(found.items()))

    def commit(self, manifest: DayManifest) -> None:
        """Make `manifest` the day's current version: one atomic rename."""
        folder = self.folder(manifest.source)
        target = folder / f"{manifest.day}{MANIFEST_SUFFIX}"
        staging = folder / f".{manifest.day}.{uuid.uuid4().hex[:8]}.tmp"
        staging.write_text(json.dumps(asdict(manifest), indent=1))
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, target)

    # -- housekeeping --------------------------------------------------------------------------
    def collect_garbage(self, sources: list[str], grace_s: float = GARBAGE_GRACE_S) -> int:
        """Remove files no manifest names, once older than `grace_s`; returns how many."""
        removed = 0
        cutoff = time.time() - grace_s
        for source in sources:
            folder = self.folder(source)
            if not folder.is_dir():
                continue
            named = {f for m in self.manifests(source).values() for f in m.files()}
            for path in folder.iterdir():
                if path.suffix == MANIFEST_SUFFIX or path.name in named:
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    def stored_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file()) if self.root.is_dir() else 0


def lake_for(published: Path) -> Lake:
    """The lake of a published file: `INVOICE_TRUE_LAKE`, else `<name>.lake/` beside it."""
    configured = os.environ.get("INVOICE_TRUE_LAKE")
    return Lake(configured) if configured else Lake(published.with_name(published.stem + ".lake"))


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def owner_day_sql(source: CanonicalSource) -> str:
    """SQL for the UTC day a row belongs to, whatever the session's time zone."""
    return f'CAST(timezone(\'UTC\', "{source.day_column}") AS DATE)'

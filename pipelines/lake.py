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

A day's rows file holds the whole fetched window (the day and its margins; `_stored_for` is the
day it was fetched for, `_day` the UTC day each row belongs to). Where two fetches cover the same
instants (a day's margin reaches into its neighbour), the later fetch is read
(`lake_views.freshest_range`). Ingest never opens the warehouse file, so days are landed side by
side by separate processes.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

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
    """A lake root: a local folder, or an object-store URL (`s3://bucket/prefix`, any fsspec
    protocol) — the same layout either way. DuckDB reads and writes a remote lake through the
    fsspec filesystem registered on its connection (`register`), as its own extensions cannot be
    installed here; a manifest is replaced by one atomic PUT there, by a rename on disk."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = str(root)
        self.fs, base = fsspec.core.url_to_fs(text)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.base = str(Path(base).expanduser().resolve()) if self.local else base.rstrip("/")
        self.url = self.base if self.local else f"{_protocol(self.fs)}://{self.base}"

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    @property
    def root(self) -> Path | str:
        """The lake's folder (a Path) on disk, its URL elsewhere."""
        return Path(self.base) if self.local else self.url

    def register(self, con) -> None:
        """Let a DuckDB connection read and write this lake's files."""
        if not self.local and not con.filesystem_is_registered(_protocol(self.fs)):
            con.register_filesystem(self.fs)

    def folder(self, source: str) -> str:
        return f"{self.base}/{source}"

    def path(self, source: str, name: str) -> str:
        """A file's full path or URL, as DuckDB and SQL tools read it."""
        return f"{self.url}/{source}/{name}"

    def new_file_names(self, source: str, day: date) -> dict[str, str]:
        if self.local:
            Path(self.folder(source)).mkdir(parents=True, exist_ok=True)
        stem = f"{day.isoformat()}.{uuid.uuid4().hex[:12]}"
        return {kind: f"{stem}.{kind}.parquet" for kind in ("rows", "quarantine", "edges")}

    # -- manifests ---------------------------------------------------------------------------
    def manifest(self, source: str, day: date) -> DayManifest | None:
        try:
            return DayManifest(**json.loads(self.fs.cat_file(f"{self.folder(source)}/{day.isoformat()}{MANIFEST_SUFFIX}")))
        except FileNotFoundError:
            return None

    def manifests(self, source: str) -> dict[date, DayManifest]:
        """Every stored day of a source: the folder listing and the (small) manifests."""
        self.fs.invalidate_cache(self.folder(source))  # an object store's listing may be cached in this process
        paths = self.fs.glob(f"{self.folder(source)}/????-??-??{MANIFEST_SUFFIX}")
        if not paths:
            return {}
        found = [DayManifest(**json.loads(text)) for text in self.fs.cat(paths).values()]
        return {m.day_date: m for m in sorted(found, key=lambda m: m.day)}

    def commit(self, manifest: DayManifest) -> None:
        """Make `manifest` the day's current version: one atomic rename (or PUT)."""
        folder = self.folder(manifest.source)
        target = f"{folder}/{manifest.day}{MANIFEST_SUFFIX}"
        text = json.dumps(asdict(manifest), indent=1).encode()
        if not self.local:
            self.fs.pipe_file(target, text)  # an object store replaces an object whole
            return
        staging = Path(folder) / f".{manifest.day}.{uuid.uuid4().hex[:8]}.tmp"
        staging.write_bytes(text)
        with open(staging, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, target)

    # -- housekeeping --------------------------------------------------------------------------
    def collect_garbage(self, sources: list[str], grace_s: float = GARBAGE_GRACE_S) -> int:
        """Remove files no manifest names, once older than `grace_s`; returns how many."""
        removed = 0
        cutoff = time.time() - grace_s
        for source in sources:
            named = {f for m in self.manifests(source).values() for f in m.files()}
            try:
                self.fs.invalidate_cache(self.folder(source))
                entries = self.fs.ls(self.folder(source), detail=True)
            except FileNotFoundError:
                continue
            for entry in entries:
                name = entry["name"].rsplit("/", 1)[-1]
                if name.endswith(MANIFEST_SUFFIX) or name in named or entry.get("type") == "directory":
                    continue
                if _modified_s(entry) < cutoff:
                    try:
                        self.fs.rm_file(entry["name"])
                        removed += 1
                    except FileNotFoundError:
                        pass
        return removed

    def stored_bytes(self) -> int:
        try:
            return int(self.fs.du(self.base, total=True))
        except FileNotFoundError:
            return 0


def _protocol(fs) -> str:
    protocol = fs.protocol
    return protocol[0] if isinstance(protocol, (tuple, list)) else protocol


def _modified_s(entry: dict) -> float:
    """A listing entry's modification time in seconds, whatever the filesystem calls it."""
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = entry.get(key)
        if value is None:
            continue
        return value.timestamp() if hasattr(value, "timestamp") else float(value)
    return 0.0


def lake_for(published: Path) -> Lake:
    """The lake of a published file: `INVOICE_TRUE_LAKE` (a folder or an `s3://`-style URL), else
    `<name>.lake/` beside it."""
    configured = os.environ.get("INVOICE_TRUE_LAKE")
    return Lake(configured) if configured else Lake(published.with_name(published.stem + ".lake"))


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def owner_day_sql(source: CanonicalSource) -> str:
    """SQL for the UTC day a row belongs to, whatever the session's time zone."""
    return f'CAST(timezone(\'UTC\', "{source.day_column}") AS DATE)'

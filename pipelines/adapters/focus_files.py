"""Which files of a FOCUS export to read: a file, a folder or a glob, and each file's delivery.

DESIGN.md rule 11, "Pinned": where several files hold the same billing account and period, only
the newest is read, by the export's manifest, else by modification time. Clouds re-deliver a
billing period whole (AWS Data Exports refresh the current period at least daily and may rewrite
the previous one for two weeks; Azure's daily month-to-date export overwrites or, in "create new"
mode, adds a run beside the old ones), so reading every file would count a month twice.

A delivery is the set of files one export run wrote:
- a manifest lists them: Azure's `manifest.json` (`blobs[].blobName`, time `runInfo.submittedTime`;
  MicrosoftDocs `tutorial-export-acm-data.md`), AWS Data Exports' `<export>-Manifest.json`
  (`dataFiles`, `dataexports-export-delivery.md`) or the legacy CUR manifest (`reportKeys`); its
  time is the run's submitted time where the manifest says it, else the manifest file's mtime;
- a file no manifest lists is a delivery of its own, timed by its modification time; or, with
  `delivery = "folder"`, the files no manifest lists in one folder are one delivery, timed by the
  newest of them (an export sharded without a manifest: BigQuery's EXPORT DATA to a wildcard URI
  writes `000000000000.parquet`, `000000000001.parquet`, ... for one run).
A manifest names files by their cloud path (`s3://bucket/prefix/.../part-00001.parquet`); a local
copy keeps the tail of that path, so a listed file is matched by its last two path components
(folder and name: names like `part0.csv` repeat across runs).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipelines.client import SourceProtocolError

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
GZIP_MAGIC, PARQUET_MAGIC = b"\x1f\x8b", b"PAR1"


@dataclass(frozen=True)
class ExportFile:
    path: Path
    format: str  # "csv", "csv.gz" or "parquet"
    delivery: str  # the manifest that lists it, or the file itself
    delivered_at: float  # epoch seconds: the manifest's run time, else the file's mtime


class FocusExportError(SourceProtocolError):
    """The export cannot be read as FOCUS at all: one line naming the file. Permanent (never retried)."""

    def __init__(self, message: str) -> None:
        self.source, self.what, self.path, self.window = "FOCUS export", message, "", ""
        Exception.__init__(self, f"FOCUS export: {message}")


def export_files(pattern: str, delivery: str = "file") -> list[ExportFile]:
    """The export's data files under `pattern` (a file, a folder searched recursively, or a glob),
    each with its delivery. A manifest that lists some of its files but not others is refused:
    reading part of a run would lose money silently."""
    found = _expand(pattern)
    manifests = [p for p in found if p.name.lower().endswith("manifest.json")]
    named = len(found) == 1 and Path(pattern).is_file()
    data = [p for p in found if p not in manifests and (named or p.name.lower().endswith(DATA_SUFFIXES))]
    if not data:
        raise FocusExportError(f"no CSV or Parquet files match {pattern}")
    by_tail = {}
    for path in data:
        by_tail.setdefault(_tail(path.parts), []).append(path)
    listed_by: dict[Path, tuple[str, float]] = {}
    for manifest in sorted(manifests):
        at, references = _read_manifest(manifest)
        listed = [(ref, by_tail.get(_tail(_components(ref)), [])) for ref in references]
        present = [paths for _, paths in listed if paths]
        if present and len(present) < len(listed):
            missing = next(ref for ref, paths in listed if not paths)
            raise FocusExportError(f"manifest {manifest} lists {missing}, which is not under {pattern}: "
                                   "the delivery is incomplete")
        for paths in present:
            for path in paths:
                previous = listed_by.get(path)
                if previous is None or (at, str(manifest)) > (previous[1], previous[0]):
                    listed_by[path] = (str(manifest), at)
    loose = [p for p in data if p not in listed_by]
    if delivery == "folder":
        newest = {}
        for path in loose:
            newest[path.parent] = max(newest.get(path.parent, 0.0), path.stat().st_mtime)
        for path in loose:
            listed_by[path] = (str(path.parent), newest[path.parent])
    files = []
    for path in sorted(data):
        name, at = listed_by.get(path, (str(path), path.stat().st_mtime))
        files.append(ExportFile(path, _format(path), name, at))
    return files


def _expand(pattern: str) -> list[Path]:
    path = Path(pattern).expanduser()
    if path.is_file():
        return [path.resolve()]
    if path.is_dir():
        return sorted(p.resolve() for p in path.rglob("*") if p.is_file())
    found: set[Path] = set()
    for match in glob.glob(os.path.expanduser(pattern), recursive=True):
        m = Path(match)
        if m.is_file():
            found.add(m.resolve())
        elif m.is_dir():
            found.update(p.resolve() for p in m.rglob("*") if p.is_file())
    return sorted(found)


def _format(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == PARQUET_MAGIC:
        return "parquet"
    return "csv.gz" if head[:2] == GZIP_MAGIC else "csv"


def _components(reference: str) -> tuple[str, ...]:
    without_scheme = reference.split("://", 1)[-1]
    return tuple(part for part in without_scheme.replace("\\", "/").split("/") if part)


def _tail(parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(parts[-2:])


def _read_manifest(path: Path) -> tuple[float, list[str]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FocusExportError(f"manifest {path} is not readable JSON ({exc.__class__.__name__})") from None
    if not isinstance(document, dict):
        raise FocusExportError(f"manifest {path} is not a JSON object")
    references: list[str] = []
    for blob in document.get("blobs") or []:  # Azure Cost Management exports
        if isinstance(blob, dict) and isinstance(blob.get("blobName"), str):
            references.append(blob["blobName"])
    for key in ("dataFiles", "reportKeys"):  # AWS Data Exports; legacy CUR
        for item in document.get(key) or []:
            if isinstance(item, str):
                references.append(item)
    at = path.stat().st_mtime
    run_info = document.get("runInfo")
    submitted = run_info.get("submittedTime") if isinstance(run_info, dict) else None
    if isinstance(submitted, str):
        try:
            parsed = datetime.fromisoformat(submitted.replace("Z", "+00:00"))
            at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
        except ValueError:
            pass
    return at, references

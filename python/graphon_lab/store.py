"""An artifact store (``glh``'s ``artifacts/``) as polars frames, read-only and verified.

A run is ``<root>/<stage>/<key>/`` with its tables (``<name>.parquet``, tidy long form, the run
columns included) and ``manifest.json`` (its parameters, inputs, and each file's SHA-256),
written last: a directory without a manifest is a run in progress or a failed one, and is
skipped. Every file is checked against its manifest's SHA-256 before it is read, so a frame
never holds bytes the store did not write. Nothing here writes. Needs polars.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def _polars() -> Any:
    try:
        import polars
    except ImportError as e:  # pragma: no cover - the message is the point
        raise ImportError("open_store needs polars: pip install polars") from e
    return polars


class Store:
    """The complete runs under ``root``; see :func:`open_store`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise ValueError(f"{self.root}: no artifact store here (run `glh run` first)")

    def _manifests(self, stage: str | None = None) -> list[tuple[Path, dict]]:
        stages = [self.root / stage] if stage else sorted(p for p in self.root.iterdir() if p.is_dir())
        found = []
        for stage_dir in stages:
            if not stage_dir.is_dir() or stage_dir.name.startswith("."):
                continue
            for run in sorted(stage_dir.iterdir()):
                manifest = run / MANIFEST
                if manifest.is_file():
                    found.append((run, json.loads(manifest.read_text())))
        return found

    def stages(self) -> list[str]:
        """The stages with at least one complete run."""
        return sorted({m["stage"] for _, m in self._manifests()})

    def runs(self, stage: str | None = None):
        """One row per complete run (of ``stage``, or every stage): ``stage``, ``key``,
        ``stage_version``, ``params`` (canonical JSON), ``inputs`` (``stage/key``), ``tables``,
        ``started_at``, ``wall_seconds``."""
        pl = _polars()
        rows = [
            {
                "stage": m["stage"],
                "key": m["key"],
                "stage_version": m["stage_version"],
                "params": json.dumps(m["params"], sort_keys=True),
                "inputs": [f"{i['stage']}/{i['key']}" for i in m.get("inputs", [])],
                "tables": [f["table"] for f in m.get("files", [])],
                "started_at": m.get("started_at"),
                "wall_seconds": m.get("wall_seconds"),
            }
            for _, m in self._manifests(stage)
        ]
        schema = {
            "stage": pl.Utf8, "key": pl.Utf8, "stage_version": pl.Int64, "params": pl.Utf8,
            "inputs": pl.List(pl.Utf8), "tables": pl.List(pl.Utf8), "started_at": pl.Utf8,
            "wall_seconds": pl.Float64,
        }
        return pl.DataFrame(rows, schema=schema)

    def table(self, stage: str, name: str):
        """Table ``name`` of every complete ``stage`` run that has it, concatenated, with the
        run's ``key`` as a first column; each file verified against its manifest first."""
        pl = _polars()
        frames = []
        for run, manifest in self._manifests(stage):
            entry = next((f for f in manifest.get("files", []) if f["table"] == name), None)
            if entry is None:
                continue
            path = run / entry["file"]
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ValueError(
                    f"{path}: its SHA-256 is not the manifest's: the file changed after the run "
                    "wrote it (`glh verify` lists such runs; rerun with --force)"
                )
            frame = pl.read_parquet(data)
            frames.append(frame.insert_column(0, pl.Series("key", [manifest["key"]] * frame.height)))
        if not frames:
            raise ValueError(f"{self.root}: no complete {stage} run has a `{name}` table")
        return pl.concat(frames, how="vertical")


def open_store(root: str | Path = "artifacts") -> Store:
    """The artifact store at ``root``, read-only: ``.runs(stage)`` lists its complete runs and
    ``.table(stage, name)`` reads one table of all of them, verified, as a polars frame::

        store = gl.open_store("artifacts")
        h = store.table("graphons", "histograms")      # every run's SAS histograms
    """
    return Store(root)

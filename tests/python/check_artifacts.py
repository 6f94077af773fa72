"""Reads every Parquet artifact under an artifact root with Python polars and pyarrow and checks
its columns and types against the documented schemas (`glh schema --format json`).

usage: python check_artifacts.py ARTIFACT_ROOT SCHEMA_JSON
Exits 1, naming the file and the column, on the first mismatch.
"""

import json
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq


def main() -> int:
    root, schema_file = Path(sys.argv[1]), Path(sys.argv[2])
    tables = {(t["stage"], t["file"]): t for t in json.loads(schema_file.read_text())}
    files = sorted(
        p for p in root.glob("*/*/*.parquet") if not p.parent.name.startswith(".")
    )
    if not files:
        print(f"{root}: no Parquet artifacts found", file=sys.stderr)
        return 1
    for path in files:
        stage = path.parent.parent.name
        table = tables.get((stage, path.name))
        if table is None:
            print(f"{path}: not a documented table", file=sys.stderr)
            return 1
        expected = [(c["name"], c["dtype"]) for c in table["columns"]]
        df = pl.read_parquet(path)
        found = [(name, str(dtype)) for name, dtype in df.schema.items()]
        if found != expected:
            print(f"{path}: polars schema {found} != documented {expected}", file=sys.stderr)
            return 1
        arrow_table = pq.read_table(path)
        if arrow_table.column_names != [n for n, _ in expected] or arrow_table.num_rows != df.height:
            print(f"{path}: pyarrow disagrees with polars", file=sys.stderr)
            return 1
        meta = pq.read_metadata(path).metadata
        if meta[b"glh.key"].decode() != path.parent.name:
            print(f"{path}: glh.key metadata does not match its directory", file=sys.stderr)
            return 1
    # One glob over every run of a table is already a tidy frame.
    for (stage, file_name) in tables:
        pattern = str(root / stage / "*" / file_name)
        if list(root.glob(f"{stage}/*/{file_name}")):
            height = pl.scan_parquet(pattern).select(pl.len()).collect().item()
            print(f"ok  {stage}/*/{file_name}: {height} rows")
    print(f"{len(files)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

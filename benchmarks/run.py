"""Benchmark `dataset-builder build` against a naive pipeline and a no-checks floor on synthetic dumps.

    python benchmarks/run.py                      # 10k, 100k, 200k and 1M papers (a few minutes)
    python benchmarks/run.py --sizes 10000 200000

Every measurement runs in a fresh process on the same generated dumps; peak RSS is sampled over the
whole process tree (worker processes included). Prints a markdown table and writes docs/benchmarks.md.
Also measures how much of the previous build's shard bytes a rebuild after one more dump leaves as they
were: whole files, and Parquet column chunks (the units content-defined storage can reuse).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate

HERE = Path(__file__).resolve().parent
PIPELINES = ("floor", "build-1", "build-2", "build", "naive")
NAIVE_MAX = 1_000_000  # the naive pipeline holds everything in pandas; it is measured up to this size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 200_000, 1_000_000])
    parser.add_argument("--files", type=int, default=10, help="dumps per size")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where dumps and outputs go")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "benchmarks.md")
    parser.add_argument("--render", type=Path, help="only re-render the table from a saved results JSON")
    parser.add_argument("--measure", choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure, args.input, args.output)))
        return
    if args.render:
        saved = json.loads(args.render.read_text())
        _write(args.out, [(size, results) for size, results in saved["rows"]], saved["reuse"])
        return
    rows = []
    for size in args.sizes:
        dumps = args.data / f"dumps-{size}"
        if not dumps.exists():
            generate(dumps, size, files=args.files)
        results = {}
        for pipeline in PIPELINES:
            if pipeline == "naive" and size > NAIVE_MAX:
                continue
            out = args.data / f"out-{size}-{pipeline}"
            shutil.rmtree(out, ignore_errors=True)
            results[pipeline] = _run(pipeline, dumps, out)
            print(f"{size:>9,} {pipeline:<8} {results[pipeline]}", file=sys.stderr)
        rows.append((size, results))
    reuse = _rebuild_reuse(args.data, min(args.sizes[-1], 200_000), args.files)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "reuse": reuse}, indent=1) + "\n")
    _write(args.out, rows, reuse)


def _write(out: Path, rows: list[tuple[int, dict[str, dict[str, float]]]], reuse: dict[str, float]) -> None:
    table = _table(rows, reuse) + "\n" + _targets(dict(rows))
    print(table)
    out.write_text(table)


def _run(pipeline: str, dumps: Path, out: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", pipeline, "--input", str(dumps), "--output", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{pipeline} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def _measure(pipeline: str, dumps: Path, out: Path) -> dict[str, float]:
    """Run one pipeline in this process, sampling the RSS of this process and its children."""
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(os.getpid()))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    papers = RUNNERS[pipeline](dumps, out)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return {"seconds": round(seconds, 2), "papers": papers, "rss_mb": round(peak[0] / 2**20)}


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    total = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) * 1024
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _tree_rss(int(child))
    except (OSError, StopIteration):
        pass
    return total


def _build(dumps: Path, out: Path, workers: int | None) -> int:
    from dataset_builder.build import build

    result = build([dumps], out, workers=workers)
    return result.report.total("read")


def _floor(dumps: Path, out: Path) -> int:
    """Read the files, pair lines, write zstd Parquet: no checks, no dedup, no card."""
    from dataset_builder.parse import is_header

    out.mkdir(parents=True)
    papers = 0
    for path in sorted(dumps.glob("*.txt")):
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line]
        start = next(i for i, line in enumerate(lines) if not is_header(line))
        lines[start] = lines[start].removeprefix("Subscribe")
        titles, abstracts = lines[start::2], lines[start + 1 :: 2]
        papers += len(titles)
        table = pa.table({"title": titles, "abstract": abstracts})
        pq.write_table(table, out / f"{path.stem}.parquet", compression="zstd")
    return papers


def _naive(dumps: Path, out: Path) -> int:
    """The obvious way: all records in pandas, pandera on the whole frame, drop_duplicates, datasets."""
    import datasets
    import pandas as pd
    import pandera.pandas as pa_pd

    from dataset_builder.parse import is_header

    records = []
    for path in sorted(dumps.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        lines = [line for line in lines if not is_header(line)]
        lines[0] = lines[0].removeprefix("Subscribe")
        for i in range(0, len(lines) - 1, 2):
            records.append({"title": lines[i], "abstract": lines[i + 1], "source_file": path.name})
    frame = pd.DataFrame(records)
    schema = pa_pd.DataFrameSchema(
        {
            "title": pa_pd.Column(str, pa_pd.Check.str_length(3, 300)),
            "abstract": pa_pd.Column(str, pa_pd.Check.str_length(50, 10_000)),
            "source_file": pa_pd.Column(str),
        }
    )
    schema.validate(frame, lazy=True)
    frame["key"] = frame["title"].str.normalize("NFKC").str.casefold().str.split().str.join(" ")
    frame = frame.drop_duplicates("key")
    out.mkdir(parents=True)
    for name, part in frame.groupby("source_file", sort=True):
        dataset = datasets.Dataset.from_pandas(part.drop(columns=["key"]), preserve_index=False)
        dataset.to_parquet(str(out / f"{Path(str(name)).stem}.parquet"))
    return len(records)


RUNNERS = {
    "floor": _floor,
    "build-1": lambda dumps, out: _build(dumps, out, workers=1),
    "build-2": lambda dumps, out: _build(dumps, out, workers=2),
    "build": lambda dumps, out: _build(dumps, out, workers=None),
    "naive": _naive,
}


def _rebuild_reuse(data: Path, size: int, files: int) -> dict[str, float]:
    """Build all dumps but the last, then all of them: how much of the first build's shards survive."""
    from dataset_builder.build import build

    dumps = data / f"dumps-{size}"
    if not dumps.exists():
        generate(dumps, size, files=files)
    fewer = data / f"dumps-{size}-fewer"
    shutil.rmtree(fewer, ignore_errors=True)
    fewer.mkdir()
    for path in sorted(dumps.glob("*.txt"))[:-1]:
        os.link(path, fewer / path.name)
    before, after = data / "reuse-before", data / "reuse-after"
    for folder in (before, after):
        shutil.rmtree(folder, ignore_errors=True)
    build([fewer], before)
    build([dumps], after)
    old = sorted((before / "data").glob("*.parquet"))
    total = sum(p.stat().st_size for p in old)
    same_files = sum(p.stat().st_size for p in old if _same(p, after / "data" / p.name))
    new_chunks = {h for p in (after / "data").glob("*.parquet") for h, _ in _column_chunks(p)}
    same_chunks = sum(size for p in old for h, size in _column_chunks(p) if h in new_chunks)
    return {"size": size, "files": same_files / total, "chunks": same_chunks / total}


def _same(a: Path, b: Path) -> bool:
    return b.exists() and a.read_bytes() == b.read_bytes()


def _column_chunks(path: Path) -> list[tuple[str, int]]:
    """(sha256, size) of every column chunk's bytes in a Parquet file."""
    meta = pq.read_metadata(path)
    data = path.read_bytes()
    chunks = []
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            column = meta.row_group(g).column(c)
            start = column.dictionary_page_offset or column.data_page_offset
            piece = data[start : start + column.total_compressed_size]
            chunks.append((hashlib.sha256(piece).hexdigest(), len(piece)))
    return chunks


def _targets(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """The issue's targets, checked against this run's numbers (sizes that were not run are skipped)."""
    checks: list[tuple[str, str, bool]] = []
    if 200_000 in results:
        r = results[200_000]
        for name in ("build", "build-1"):
            ratio = r[name]["seconds"] / r["floor"]["seconds"]
            checks.append((f"200k: `{name}` time <= 2x floor", f"{ratio:.2f}x", ratio <= 2))
        if "naive" in r:
            speedup = r["naive"]["seconds"] / r["build"]["seconds"]
            checks.append(("200k: `build` >= 3x faster than naive", f"{speedup:.2f}x", speedup >= 3))
        for name in ("build", "build-1"):
            rss = r[name]["rss_mb"]
            checks.append((f"200k: `{name}` peak RSS <= 300 MB", f"{rss:.0f} MB", rss <= 300))
    if 100_000 in results and 1_000_000 in results:
        # `build` may use a different number of processes at the two sizes; the others compare like with like.
        for name, note in (("build-1", ""), ("build-2", ""), ("build", " (default processes)")):
            growth = results[1_000_000][name]["rss_mb"] / results[100_000][name]["rss_mb"]
            checks.append((f"`{name}` RSS growth 100k -> 1M <= 1.3x{note}", f"{growth:.2f}x", growth <= 1.3))
    if 1_000_000 in results:
        seconds = results[1_000_000]["build"]["seconds"]
        checks.append(("1M papers with `build` in under a minute", f"{seconds:.0f} s", seconds < 60))
    lines = ["## Targets", "", "| target | measured | met |", "|---|---:|:---:|"]
    lines += [f"| {name} | {value} | {'yes' if ok else 'no'} |" for name, value, ok in checks]
    return "\n".join(lines) + "\n"


def _table(rows: list[tuple[int, dict[str, dict[str, float]]]], reuse: dict[str, float]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Made by `python benchmarks/run.py` on synthetic dumps (both layouts, 10 files, ~7% of papers",
        "repeated, abstracts of 300-2,000 characters). Wall time, throughput and peak RSS of the whole",
        "process tree, each run in a fresh process. `build-1` and `build-2` run `build` with one and two",
        "processes; `build` picks for itself (one per core, 2 here, for inputs over 512 MB: the 1M row);",
        "`floor` reads, pairs lines and writes zstd Parquet with no checks;",
        "`naive` is pandas + pandera + drop_duplicates + `datasets.Dataset.to_parquet`.",
        "",
        "| papers | pipeline | seconds | papers/s | peak RSS MB | vs floor | naive / this |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size, results in rows:
        floor = results["floor"]["seconds"]
        naive = results.get("naive", {}).get("seconds")
        for name, result in results.items():
            seconds = result["seconds"]
            ratio = f"{naive / seconds:.1f}x" if naive and name != "naive" else ""
            lines.append(
                f"| {size:,} | {name} | {seconds:.1f} | {size / seconds:,.0f} | {result['rss_mb']:.0f} | "
                f"{seconds / floor:.2f} | {ratio} |"
            )
    lines += [
        "",
        f"Rebuild after adding one dump ({reuse['size']:,} papers): {reuse['files']:.1%} of the previous",
        f"shards' bytes are in byte-identical files, {reuse['chunks']:.1%} in byte-identical Parquet column",
        "chunks (what content-defined storage on the Hub can skip re-uploading).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

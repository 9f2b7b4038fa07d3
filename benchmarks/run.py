"""Benchmark `dataset-builder build` against a naive pipeline and a no-checks floor on synthetic dumps.

    python benchmarks/run.py                      # 50k, 200k and 1M papers, 3 runs each (a few minutes)
    python benchmarks/run.py --sizes 50000 200000 --repeat 5
    python benchmarks/run.py --out docs/benchmarks.md   # to update the tracked table

Every measurement runs in a fresh process on the same generated dumps; the pipelines of one size run
interleaved, `--repeat` times, and the table shows the median with the spread (min-max). Peak RSS is
sampled over the whole process tree. Also times `validate dumps/` (the bundled dumps) against merely
importing pandera's polars API and pyarrow, and measures how much of the previous build's shard bytes a
rebuild after one more dump leaves as they were: whole files, and Parquet column chunks (the units
content-defined storage can reuse). Prints the table and the issue's targets, and writes them to
`--out` (default: benchmarks/data/benchmarks.md, not tracked) with the raw results beside it as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate, generate_templated

HERE = Path(__file__).resolve().parent
PIPELINES = ("floor", "build-1", "build", "naive", "parse")
NAIVE_MAX = 200_000  # the naive pipeline holds everything in pandas; it is measured up to this size
# One lever of issue 21 turned back at a time (at LEVER_SIZE only), and near-duplicates off.
LEVERS = ("build:near-off", "build:pandera-import", "build:polars-checks")
LEVER_SIZE = 200_000  # or the largest size run, when it is not
CHECKS = ("import", "import-pyarrow-api", "validate")  # `validate dumps/` and bare imports
TEMPLATED = ("build", "build:near-off")  # on dumps of formulaic abstracts (issue 19)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 1_000_000])
    parser.add_argument("--files", type=int, default=10, help="dumps per size")
    parser.add_argument(
        "--templated", type=int, nargs="*", default=[1_000_000], help="sizes of templated-abstract dumps"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of every measurement (median shown)")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where dumps and outputs go")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "benchmarks.md", help="table to write")
    parser.add_argument("--render", type=Path, help="only re-render the table from a saved results JSON")
    parser.add_argument("--measure", choices=PIPELINES + LEVERS + CHECKS, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure, args.input, args.output)))
        return
    if args.render:
        saved = json.loads(args.render.read_text())
        _write(
            args.out, [(size, results) for size, results in saved["rows"]], saved["reuse"], saved["templated"]
        )
        return
    rows = []
    lever_size = LEVER_SIZE if LEVER_SIZE in args.sizes else max(args.sizes)
    for size in args.sizes:
        dumps = args.data / f"dumps-{size}"
        if not dumps.exists():
            generate(dumps, size, files=args.files)
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.repeat):
            for pipeline in PIPELINES + LEVERS:
                if (pipeline == "naive" and size > NAIVE_MAX) or (
                    pipeline in (*LEVERS, "parse") and size != lever_size
                ):
                    continue
                out = args.data / f"out-{size}-{pipeline}"
                shutil.rmtree(out, ignore_errors=True)
                runs.setdefault(pipeline, []).append(_run(pipeline, dumps, out))
                print(f"{size:>9,} {pipeline:<8} {runs[pipeline][-1]}", file=sys.stderr)
        rows.append((size, {name: _summary(results) for name, results in runs.items()}))
    checks: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.repeat):
        for check in CHECKS:
            checks.setdefault(check, []).append(_run(check, HERE.parent / "dumps", args.data / "unused"))
    rows.append((0, {name: _summary(results) for name, results in checks.items()}))
    templated = []
    for size in args.templated:  # interleaved too: one run each swung 20% between minutes here
        dumps = args.data / f"templated-{size}"
        if not dumps.exists():
            generate_templated(dumps, size, files=args.files)
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.repeat):
            for pipeline in TEMPLATED:
                out = args.data / f"out-templated-{size}-{pipeline}"
                shutil.rmtree(out, ignore_errors=True)
                runs.setdefault(pipeline, []).append(_run(pipeline, dumps, out))
                print(f"{size:>9,} templated {pipeline:<8} {runs[pipeline][-1]}", file=sys.stderr)
        templated.append((size, {pipeline: _summary(results) for pipeline, results in runs.items()}))
    reuse = _rebuild_reuse(args.data, min(args.sizes[-1], 200_000), args.files)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    saved = {"rows": rows, "reuse": reuse, "templated": templated}
    args.out.with_suffix(".json").write_text(json.dumps(saved, indent=1) + "\n")
    _write(args.out, rows, reuse, templated)


def _summary(results: list[dict[str, float]]) -> dict[str, float]:
    """Median seconds, CPU seconds and RSS of repeated runs, with the fastest and slowest run."""
    seconds = sorted(r["seconds"] for r in results)
    return {
        "seconds": statistics.median(seconds),
        "cpu": statistics.median(r["cpu"] for r in results),
        "min": seconds[0],
        "max": seconds[-1],
        "runs": len(seconds),
        "papers": results[0]["papers"],
        "rss_mb": statistics.median(r["rss_mb"] for r in results),
    }


Rows = list[tuple[int, dict[str, dict[str, float]]]]


def _write(out: Path, rows: Rows, reuse: dict[str, float], templated: Rows) -> None:
    table = _table(rows, reuse, templated) + "\n" + _targets(dict(rows), dict(templated))
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

    SETUP.get(pipeline, lambda: None)()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start, cpu = time.perf_counter(), time.process_time()
    papers = RUNNERS[pipeline](dumps, out)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    stop.set()
    sampler.join()
    return {
        "seconds": round(seconds, 2),
        "cpu": round(cpu, 2),
        "papers": papers,
        "rss_mb": round(peak[0] / 2**20),
    }


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


def _build(dumps: Path, out: Path, workers: int | None, **options: Any) -> int:
    from dataset_builder.pipeline import build
    from dataset_builder.runner import use_system_memory

    use_system_memory()  # as the `dataset-builder` command does for its process
    result = build([dumps], out, workers=workers, **options)
    return result.report.total("read")


def _with_pandera_import(dumps: Path, out: Path) -> int:
    """`build` as before its checks' verdict needed no pandera: pandera's pyarrow API imported in a thread
    while the first dumps are read (a build then imported it whether or not a batch failed)."""
    thread = threading.Thread(target=importlib.import_module, args=("pandera.pyarrow",))
    thread.start()
    try:
        return _build(dumps, out, workers=None)
    finally:
        thread.join()


def _with_polars_checks(dumps: Path, out: Path) -> int:
    """`build` checking batches as before pandera.pyarrow: each table converted to a polars frame and
    validated by pandera's polars API from the same YAML (problems, if any, from schema.check)."""
    import pandera.errors
    import pandera.polars
    import polars as pl

    from dataset_builder import passes, schema
    from dataset_builder.resources import resource

    checks = pandera.polars.DataFrameSchema.from_yaml(resource(schema.SCHEMA_PATH).read_text())

    def check(table: pa.Table, file: str, first_row: int | None = None) -> list[Any]:
        try:
            checks.validate(pl.from_arrow(table), lazy=True)
        except pandera.errors.SchemaErrors:
            return schema.check(table, file, first_row)
        return []

    passes.check = check  # type: ignore[assignment]
    return _build(dumps, out, workers=None)


def _parse_imports() -> None:
    """What the `parse` row does not time, as the reader's target is about reading: the parser's
    imports, and pandas, which pyarrow imports on its first conversion of a list or numpy array (together
    0.3-0.4 s of CPU; every other row pays them)."""
    import pandas  # noqa: F401

    import dataset_builder.parse  # noqa: F401


def _parse(dumps: Path, out: Path) -> int:
    """Read, split, clean and pair every dump through `parse_dump` alone, one dump after another."""
    from dataset_builder.parse import parse_dump  # the parser's entry point: change it here only
    from dataset_builder.records import Paper

    papers = 0
    for path in sorted(dumps.glob("*.txt")):
        for chunk in parse_dump(path):
            papers += sum(isinstance(i, Paper) for i in chunk) if isinstance(chunk, list) else len(chunk)
    return papers


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


def _validate(dumps: Path, out: Path) -> int:
    """`dataset-builder validate DUMPS` as the CI gate runs it, from a fresh interpreter."""
    command = [sys.executable, "-m", "dataset_builder", "validate", str(dumps)]
    done = subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    return done.returncode


def _import(dumps: Path, out: Path, code: str = "import pandera.polars, pyarrow.parquet") -> int:
    """What `validate` could not do without before: pandera's polars API and pyarrow, from a fresh
    interpreter (the issue's baseline; `import-pyarrow-api` imports pandera's pyarrow API instead)."""
    return subprocess.run([sys.executable, "-c", code], check=True).returncode


SETUP = {"parse": _parse_imports}  # done before the clock starts
RUNNERS = {
    "floor": _floor,
    "build-1": lambda dumps, out: _build(dumps, out, workers=1),
    "build": lambda dumps, out: _build(dumps, out, workers=None),
    "naive": _naive,
    "parse": _parse,
    "build:near-off": lambda dumps, out: _build(dumps, out, workers=None, near_duplicates="off"),
    "build:pandera-import": _with_pandera_import,
    "build:polars-checks": _with_polars_checks,
    "import": _import,
    "import-pyarrow-api": lambda dumps, out: _import(dumps, out, "import pandera.pyarrow, pyarrow.parquet"),
    "validate": _validate,
}


def _rebuild_reuse(data: Path, size: int, files: int) -> dict[str, float]:
    """Build all dumps but the last, then all of them: how much of the first build's shards survive."""
    from dataset_builder.pipeline import build

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


def _targets(results: dict[int, dict[str, dict[str, float]]], templated: dict[int, Any]) -> str:
    """The issues' targets, checked against this run's medians (sizes that were not run are skipped);
    a missed target says by how much."""
    checks: list[tuple[str, float, float, str]] = []  # name, measured, limit, unit ("x", " MB", " s")

    if 200_000 in results:
        r = results[200_000]
        checks.append(
            ("200k: `build` time <= 1.3x floor", r["build"]["seconds"] / r["floor"]["seconds"], 1.3, "x")
        )
        if "naive" in r:
            # ">= 2x faster than naive" is "build / naive <= 1 / 2"
            ratio = r["build"]["seconds"] / r["naive"]["seconds"]
            checks.append(("200k: `build` >= 2x faster than naive (build / naive <= 0.50)", ratio, 0.5, "x"))
        checks.append(("200k: `build` peak RSS <= 300 MB", r["build"]["rss_mb"], 300, " MB"))
        if 50_000 in results:
            growth = r["build"]["rss_mb"] / results[50_000]["build"]["rss_mb"]
            checks.append(("`build` peak RSS growth 50k -> 200k <= 1.3x", growth, 1.3, "x"))
        if "parse" in r:
            checks.append(("200k: `parse` (parse_dump alone) CPU <= 1.0 s", r["parse"]["cpu"], 1.0, " s"))
    if 1_000_000 in results:
        r = results[1_000_000]
        checks.append(
            ("1M: `build` time <= 1.0x floor", r["build"]["seconds"] / r["floor"]["seconds"], 1.0, "x")
        )
    if 0 in results:
        r = results[0]
        ratio = r["validate"]["seconds"] / r["import"]["seconds"]
        checks.append(
            ("`validate dumps/` <= 1.15x `import pandera.polars, pyarrow.parquet`", ratio, 1.15, "x")
        )
    for size, r in templated.items():
        label = f"{size:,} templated"
        ratio = r["build"]["seconds"] / r["build:near-off"]["seconds"]
        checks.append((f"{label}: `build` < 2x `--near-duplicates off`", ratio, 2.0, "x"))
        checks.append((f"{label}: `build` peak RSS < 1 GB", r["build"]["rss_mb"], 1024, " MB"))
    lines = ["## Targets", "", "| target | measured | met |", "|---|---:|:---|"]
    for name, value, limit, unit in checks:
        shown = f"{value:.2f}{unit}" if unit != " MB" else f"{value:.0f}{unit}"
        verdict = "yes" if value <= limit else f"no: {value / limit - 1:.0%} over"
        lines.append(f"| {name} | {shown} | {verdict} |")
    return "\n".join(lines) + "\n"


def _table(rows: Rows, reuse: dict[str, float], templated: Rows) -> str:
    runs = max((int(r.get("runs", 1)) for _, results in rows for r in results.values()), default=1)
    lines = [
        "# Benchmarks",
        "",
        "Made by `python benchmarks/run.py` on synthetic dumps (both layouts, 10 files, ~7% of papers",
        f"repeated, abstracts of 300-2,000 characters). Median of {runs} interleaved runs (spread: fastest",
        "and slowest), each in a fresh process; peak RSS of the whole process tree; CPU seconds of the",
        "process (all its threads). `build-1` runs `build` with one thread; `build` with its defaults (one",
        "thread per core, 2 here); `floor` reads, pairs lines and writes zstd Parquet on one core with no",
        "checks; `naive` is pandas + pandera + drop_duplicates + `datasets.Dataset.to_parquet`; `parse` is",
        "`parse_dump` alone over every dump (read, split, clean, pair; one thread), timed after its",
        "imports (pyarrow, numpy and pandas, which pyarrow loads on first use). `build:` rows turn one",
        "thing back at a time: `near-off` looks for no near-duplicates, `pandera-import` imports pandera",
        "while the first dumps are read (as before the checks' verdict needed none), `polars-checks`",
        "converts each batch to polars for pandera's polars API. The `dumps/` rows time `validate` of the",
        "five bundled dumps against importing pandera's polars API (or its pyarrow API) and",
        "pyarrow.parquet; the `templated` rows build short papers with formulaic abstracts",
        "(`synthetic.generate_templated`).",
        "",
        "| papers | pipeline | seconds (spread) | CPU s | papers/s | peak RSS MB | vs floor | naive / this |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, results in rows + [(-size, results) for size, results in templated]:
        floor = results.get("floor", results.get("import", results.get("build:near-off", {}))).get("seconds")
        naive = results.get("naive", {}).get("seconds")
        for name, result in results.items():
            seconds = result["seconds"]
            spread = f" ({result.get('min', seconds):.2f}-{result.get('max', seconds):.2f})"
            ratio = f"{naive / seconds:.1f}x" if naive and name != "naive" else ""
            rate = f"{abs(size) / seconds:,.0f}" if size else ""
            label = f"{size:,}" if size > 0 else f"{-size:,} templated" if size else "dumps/"
            versus = f"{seconds / floor:.2f}" if floor else ""
            cpu = f"{result['cpu']:.2f}" if "cpu" in result else ""
            lines.append(
                f"| {label} | {name} | {seconds:.2f}{spread} | {cpu} | {rate} | {result['rss_mb']:.0f} | "
                f"{versus} | {ratio} |"
            )
    lines += [
        "",
        "`vs floor` of the templated rows is against the same build with `--near-duplicates off`.",
        "",
        f"Rebuild after adding one dump ({reuse['size']:,} papers): {reuse['files']:.1%} of the previous",
        f"shards' bytes are in byte-identical files, {reuse['chunks']:.1%} in byte-identical Parquet column",
        "chunks (what content-defined storage on the Hub can skip re-uploading).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

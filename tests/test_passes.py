"""The first pass's scan of a group of small dumps (one schema verdict for all) against each dump alone."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc
import pytest
from conftest import DUMPS

from dataset_builder import schema
from dataset_builder.passes import FileScan, scan_file, scan_files

CORPUS = Path(__file__).parent / "corpus"


def seen(scan: FileScan) -> dict[str, Any]:
    """Everything a scan hands on, in comparable form."""
    keys = scan.keys
    return {
        "summary": scan.summary,
        "problems": scan.problems,
        "omitted": scan.omitted,
        "keys": (keys.titles, keys.abstracts, keys.lines, keys.arxiv),
        "title_texts": [t.to_pylist() for t in keys.title_texts],
        "signatures": [s.tolist() for s in keys.signatures],
        "title_forms": [t.to_pylist() for t in keys.title_forms],
    }


def spilled(path: Path) -> pa.Table:
    """The papers a spill file holds (its bytes may differ: a group's columns are slices of its whole)."""
    with pa.OSFile(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


@pytest.mark.parametrize("broken", [False, True])
def test_a_group_of_small_dumps_scans_as_each_dump_alone(
    tmp_path: Path, broken: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every paper valid (one verdict for the group) and with a paper the schema rejects in one of
    them (each batch then gets its own check): the same summaries, problems, keys and spilled rows."""
    names = ["ok_crlf.txt", "ok_nfd.txt", "conflict_a.txt"] + (["short_abstract.txt"] if broken else [])
    paths = [Path(shutil.copy(CORPUS / name, tmp_path)) for name in names]
    paths.append(Path(shutil.copy(sorted(DUMPS.iterdir())[0], tmp_path)))
    verdicts: list[int] = []
    real = schema.all_rows_pass

    def counted(table: Any) -> bool:
        verdicts.append(table.num_rows)
        return real(table)

    monkeypatch.setattr("dataset_builder.passes.all_rows_pass", counted)
    alone = [scan_file(path, tmp_path / f"alone-{i}", 50) for i, path in enumerate(paths)]
    grouped = scan_files([(path, tmp_path / f"group-{i}") for i, path in enumerate(paths)], 50)
    assert [seen(scan) for scan in grouped] == [seen(scan) for scan in alone]
    for i in range(len(paths)):
        assert spilled(tmp_path / f"group-{i}").equals(spilled(tmp_path / f"alone-{i}"))
    assert verdicts == [sum(scan.summary.read - scan.summary.rejected for scan in alone) + broken]
    assert any(p.rule == "abstract-length" for scan in grouped for p in scan.problems) == broken


def test_a_group_reports_its_bytes_as_one_job(tmp_path: Path) -> None:
    """Progress of a group counts on from one dump to the next, up to the group's size."""
    paths = [Path(shutil.copy(path, tmp_path)) for path in sorted(DUMPS.iterdir())[:3]]
    told: list[int] = []
    scan_files([(path, None) for path in paths], 50, progress=lambda done, papers: told.append(done))
    assert told == sorted(told) and told[-1] == sum(path.stat().st_size for path in paths)


def test_a_group_without_papers_reports_each_dump_as_alone(tmp_path: Path) -> None:
    """Empty, header-only, binary and blank dumps in one group: no table, no verdict, the same problems."""
    names = ["empty.txt", "header_only.txt", "binary.txt", "blank_lines_only.txt"]
    paths = [Path(shutil.copy(CORPUS / name, tmp_path)) for name in names]
    alone = [scan_file(path, None, 50) for path in paths]
    grouped = scan_files([(path, None) for path in paths], 50)
    assert [seen(scan) for scan in grouped] == [seen(scan) for scan in alone]
    assert [[p.rule for p in scan.problems] for scan in grouped] == [
        ["empty-file"],
        ["no-papers"],
        ["binary-file"],
        ["no-papers"],
    ]

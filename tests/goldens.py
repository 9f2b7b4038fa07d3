"""The parser's frozen outputs: for every input under GROUPS, its papers and problems in order, as JSON
lines under tests/golden/<group>/<file>.jsonl. `python tests/goldens.py` rewrites them from the current
parser; tests/test_parse.py compares the parser with them. Paths in problems are stored as file names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from dataset_builder.parse import Papers, parse_dump
from dataset_builder.records import Paper, Problem

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
GROUPS = {
    "corpus": ROOT / "tests" / "corpus",  # the validate tests' broken and odd dumps
    "dumps": ROOT / "dumps",  # the bundled real dumps
    "inputs": GOLDEN / "inputs",  # synthetic dumps of both layouts, random mixes, hand-written misreads
}


def inputs() -> list[tuple[str, Path]]:
    """Every (group, dump) pair that has a golden file."""
    return [(group, path) for group, folder in GROUPS.items() for path in sorted(folder.glob("*.txt"))]


def golden_path(group: str, path: Path) -> Path:
    return GOLDEN / group / f"{path.stem}.jsonl"


def flatten(chunks: Iterable[Papers | list[Paper | Problem]], source: str) -> list[Paper | Problem]:
    """The parser's chunks as one flat list of papers and problems, in file order."""
    out: list[Paper | Problem] = []
    for chunk in chunks:
        out.extend(chunk.to_list(source) if isinstance(chunk, Papers) else chunk)
    return out


def records(path: Path, **options: int) -> list[dict[str, object]]:
    """What the parser makes of `path`, as the JSON objects a golden file holds."""
    out: list[dict[str, object]] = []
    for item in flatten(parse_dump(path, **options), path.name):
        if isinstance(item, Paper):
            assert item.source == path.name
            out.append({"paper": [item.title, item.abstract, item.line, item.abstract_line]})
        else:
            assert item.file == str(path)
            fields = [path.name, item.line, item.column, item.rule, item.message, item.value]
            out.append({"problem": fields})
    return out


def load(group: str, path: Path) -> list[dict[str, object]]:
    text = golden_path(group, path).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def main() -> None:
    for group, path in inputs():
        target = golden_path(group, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = (json.dumps(record, ensure_ascii=False) + "\n" for record in records(path))
        target.write_text("".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()

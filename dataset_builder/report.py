"""Report: what a run read, kept, removed and rejected, and every problem; rendered for people or tools.

The JSON form is a stable interface (documented in README.md, pinned by tests/test_report.py): CI
systems parse it, so fields are only ever added.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dataset_builder.records import Duplicate, NearDuplicate, Place, Problem, Revision, shorten

REPORT_VERSION = 1
FORMATS = ("text", "json", "github")
# Problems of one rule listed per file; the others are only counted (Report.omitted), so a dump of
# millions of bad lines takes bounded memory to report.
MAX_PROBLEMS_PER_RULE = 100


@dataclass
class ProblemCap:
    """Keeps the first `limit` problems of each rule per file and counts the others in `omitted`."""

    limit: int = MAX_PROBLEMS_PER_RULE
    seen: Counter[tuple[str, str]] = field(default_factory=Counter)
    omitted: Counter[tuple[str, str]] = field(default_factory=Counter)

    def keep(self, problems: Iterable[Problem]) -> list[Problem]:
        """The problems to list; the rest are counted."""
        kept = []
        for problem in problems:
            key = (problem.file, problem.rule)
            self.seen[key] += 1
            if self.seen[key] > self.limit:
                self.omitted[key] += 1
            else:
                kept.append(problem)
        return kept


@dataclass
class FileSummary:
    """One dump's accounting: `read == kept + duplicates + revisions + rejected` always holds.

    `revisions` counts the papers read again with another abstract (kept as one row, by the policy);
    `near_duplicates` the papers close to an earlier one (kept, or counted in `duplicates` if removed);
    `with_arxiv_id` the kept papers that have an arXiv id (their own, or one an API dump gave them).
    `split` is the name the dump's papers have in the build (its config and shard prefix; layout.py), or
    None when it kept no paper."""

    name: str
    path: str
    sha256: str
    read: int = 0
    kept: int = 0
    duplicates: int = 0
    rejected: int = 0
    split: str | None = None
    revisions: int = 0
    near_duplicates: int = 0
    with_arxiv_id: int = 0


@dataclass
class Report:
    files: list[FileSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    near_duplicates: list[NearDuplicate] = field(default_factory=list)
    # (file, rule) -> problems found but not listed in `problems` (see ProblemCap)
    omitted: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.omitted

    @property
    def problem_count(self) -> int:
        """Every problem found, listed or not."""
        return len(self.problems) + sum(self.omitted.values())

    def total(self, name: str) -> int:
        """Sum of one count (`read`, `kept`, `duplicates`, `rejected`) over all files."""
        return sum(getattr(f, name) for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: see README.md, 'The JSON report'."""
        return {
            "version": REPORT_VERSION,
            "valid": self.ok,
            "counts": {
                "files": len(self.files),
                "read": self.total("read"),
                "kept": self.total("kept"),
                "duplicates": self.total("duplicates"),
                "rejected": self.total("rejected"),
                "revisions": self.total("revisions"),
                "near_duplicates": len(self.near_duplicates),
                "problems": self.problem_count,
            },
            "files": [
                {
                    "file": f.name,
                    "path": f.path,
                    "sha256": f.sha256,
                    "split": f.split,
                    "read": f.read,
                    "kept": f.kept,
                    "duplicates": f.duplicates,
                    "rejected": f.rejected,
                    "revisions": f.revisions,
                    "near_duplicates": f.near_duplicates,
                    "with_arxiv_id": f.with_arxiv_id,
                }
                for f in self.files
            ],
            "problems": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "rule": p.rule,
                    "message": p.message,
                    "value": p.value,
                }
                for p in self.problems
            ],
            "duplicates": [
                {
                    "file": d.file,
                    "line": d.line,
                    "paper_id": d.paper_id,
                    "first_file": d.first_file,
                    "first_line": d.first_line,
                }
                for d in self.duplicates
            ],
            "revisions": [
                {
                    "paper_id": r.paper_id,
                    "file": r.versions[0].file,
                    "line": r.versions[0].line,
                    "policy": r.policy,
                    "kept": _place(r.kept),
                    "versions": [_place(v) for v in r.versions],
                    "titles": list(r.titles),
                }
                for r in self.revisions
            ],
            "near_duplicates": [
                {
                    "file": n.later.file,
                    "line": n.later.line,
                    "first_file": n.first.file,
                    "first_line": n.first.line,
                    "path": n.later.path,
                    "first_path": n.first.path,
                    "paper_id": n.paper_id,
                    "first_paper_id": n.first_paper_id,
                    "title_similarity": n.title_similarity,
                    "abstract_similarity": n.abstract_similarity,
                    "removed": n.removed,
                }
                for n in self.near_duplicates
            ],
            # problems found past the first MAX_PROBLEMS_PER_RULE of a rule in a file: counted, not listed
            "omitted": [
                {"file": file, "rule": rule, "count": count} for (file, rule), count in self.omitted.items()
            ],
        }

    def accounting(self) -> str:
        """`647 papers read = 599 kept + 46 duplicates removed + 0 revisions merged + 2 rejected`: every
        term shown, so the line adds up."""
        of = f" (of {counted(len(self.revisions), 'paper')})" if self.revisions else ""
        return (
            f"{counted(self.total('read'), 'paper')} read = {self.total('kept'):,} kept + "
            f"{counted(self.total('duplicates'), 'duplicate')} removed + "
            f"{counted(self.total('revisions'), 'revision')} merged{of} + {self.total('rejected'):,} rejected"
        )

    def summary(self) -> str:
        """One line for a validate run: the files, the accounting, near-duplicates and problems."""
        near = f"{counted(len(self.near_duplicates), 'near-duplicate')}, " if self.near_duplicates else ""
        return (
            f"{counted(len(self.files), 'file')}, {self.accounting()}; "
            f"{near}{counted(self.problem_count, 'problem')}"
        )

    def notes(self) -> list[str]:
        """Lines for what is worth knowing but not wrong: every exact repeat removed, every revision and
        which version was kept."""
        return [*(_duplicate_note(*d) for d in self._removed()), *(_revision_note(r) for r in self.revisions)]

    def _removed(self) -> list[tuple[str, int, str, int]]:
        """(path, line, first path, first line) of every exact repeat removed, paths as given; removed
        near-duplicates are left out: their own line says so."""
        paths = {f.name: f.path for f in self.files}
        near = {(n.later.file, n.later.line) for n in self.near_duplicates if n.removed}
        return [
            (paths.get(d.file, d.file), d.line, paths.get(d.first_file, d.first_file), d.first_line)
            for d in self.duplicates
            if (d.file, d.line) not in near
        ]

    def warnings(self) -> list[str]:
        """Lines for what may be wrong but does not stop a build: near-duplicate pairs."""
        return [_near_note(n) for n in self.near_duplicates]

    def render(self, fmt: str, summary: str | None = None) -> str:
        """The report as `text` (FILE:LINE: [rule] message), `json`, or `github` workflow commands,
        ending with `summary` (default: the validate summary) in text and github."""
        summary = summary or self.summary()
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        if fmt == "github":
            lines = [github_annotation(p) for p in self.problems]
            lines += [
                f"::error file={_escape(f, prop=True)}::{_escape(_omitted(r, n))}"
                for (f, r), n in self.omitted.items()
            ]
            lines += [_github_near(n) for n in self.near_duplicates]
            lines += [_github_duplicate(*d) for d in self._removed()]
            lines += [_github_revision(r) for r in self.revisions]
            lines.append(("::error::" if self.problems else "::notice::") + _escape(summary))
            return "\n".join(lines)
        omitted = [f"{file}: {_omitted(rule, n)}" for (file, rule), n in self.omitted.items()]
        lines = [*(str(p) for p in self.problems), *omitted, *self.warnings(), *self.notes(), summary]
        return "\n".join(lines)


def counted(number: int, noun: str) -> str:
    """`1 revision`, `2 revisions`, `1,234 papers`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _omitted(rule: str, count: int) -> str:
    first = MAX_PROBLEMS_PER_RULE
    return f"[{rule}] {counted(count, 'more problem')} of this rule (only the first {first} are listed)"


def _place(place: Place) -> dict[str, Any]:
    return {"file": place.file, "path": place.path, "line": place.line}


def _duplicate_note(path: str, line: int, first_path: str, first_line: int) -> str:
    return f"{path}:{line}: [duplicate] {_duplicate_message(first_path, first_line)}"


def _duplicate_message(first_path: str, first_line: int) -> str:
    return f"same paper as {first_path}:{first_line}; removed"


def _github_duplicate(path: str, line: int, first_path: str, first_line: int) -> str:
    props = f"file={_escape(path, prop=True)},line={line},title=duplicate"
    return f"::notice {props}::{_escape(_duplicate_message(first_path, first_line))}"


def _revision_note(revision: Revision) -> str:
    first = revision.versions[0]
    return f"{first.path}:{first.line}: [revision] {_revision_message(revision)}"


def _revision_message(revision: Revision) -> str:
    versions = ", ".join(f"{v.path}:{v.line}" for v in revision.versions)
    kept = revision.kept
    titles = ""
    if revision.retitled:
        titles = "; retitled: " + " -> ".join(shorten(t) for t in dict.fromkeys(revision.titles))
    return (
        f"revised paper {revision.paper_id}: {len(revision.versions)} versions ({versions}){titles}; the "
        f"row keeps this place and title and the abstract of {kept.path}:{kept.line} "
        f"(--on-conflict {revision.policy})"
    )


def _github_revision(revision: Revision) -> str:
    first = revision.versions[0]
    props = f"file={_escape(first.path, prop=True)},line={first.line},title=revision"
    return f"::notice {props}::{_escape(_revision_message(revision))}"


def _near_note(near: NearDuplicate) -> str:
    done = "removed as a duplicate" if near.removed else "kept; --near-duplicates remove drops it"
    return f"{near.later.path}:{near.later.line}: [near-duplicate] {_near_message(near)}; {done}"


def _near_message(near: NearDuplicate) -> str:
    return (
        f"close to {near.first.path}:{near.first.line} (title similarity {near.title_similarity:.2f}, "
        f"abstract similarity {near.abstract_similarity:.2f})"
    )


def _github_near(near: NearDuplicate) -> str:
    props = f"file={_escape(near.later.path, prop=True)},line={near.later.line},title=near-duplicate"
    return f"::warning {props}::{_escape(_near_message(near))}"


def github_annotation(problem: Problem) -> str:
    """A GitHub Actions `::error` command; properties and message escaped as the runner expects (no
    `file` for a problem of no file)."""
    props = [f"file={_escape(problem.file, prop=True)}"] if problem.file else []
    if problem.line is not None:
        props.append(f"line={problem.line}")
    if problem.column is not None:
        props.append(f"col={problem.column}")
    props.append(f"title={_escape(problem.rule, prop=True)}")
    message = problem.message + (f" ({shorten(problem.value)})" if problem.value else "")
    return f"::error {','.join(props)}::{_escape(message)}"


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text

"""records.py: every problem's rule is registered, and the registry says which rules lose a record."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

from dataset_builder.errors import DatasetError
from dataset_builder.records import LOST_RECORD_RULES, RULES, Problem


def test_a_problem_with_an_unregistered_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="no-such-rule"):
        Problem("a.txt", 1, "no-such-rule", "message")
    assert Problem("a.txt", 1, "orphan-title", "message").rule == "orphan-title"
    with pytest.raises(ValueError, match="no-such-rule"):
        DatasetError("message", rule="no-such-rule")
    assert DatasetError("message").rule == "refused"


def test_lost_records_come_from_the_registry() -> None:
    lost = {"orphan-title", "orphan-abstract", "not-utf8", "control-char", "line-too-long"}
    lost |= {"jsonl-not-json", "jsonl-missing-field", "jsonl-bad-field"}
    assert lost == LOST_RECORD_RULES
    assert all(RULES[name].loses_record for name in LOST_RECORD_RULES)


def _literal_rules(path: Path) -> set[str]:
    """Rule ids written as literals in a module: third argument of `Problem(...)`, or `rule=...`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        values = [k.value for k in node.keywords if k.arg == "rule"]
        if name == "Problem" and len(node.args) >= 3:
            values.append(node.args[2])
        found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return found


def test_every_rule_the_package_writes_is_registered() -> None:
    written = set().union(*map(_literal_rules, (ROOT / "dataset_builder").rglob("*.py")))
    assert len(written) > 30
    assert written <= set(RULES), written - set(RULES)

"""README.md's Python blocks run, as written, against a local build and the stand-in Hub.

Each ```python block runs in a fresh interpreter in a project folder (the bundled dumps, a settings file
naming the repository, `dist/` built) with HF_ENDPOINT and HF_TOKEN pointing at the stand-in. A line
`expression  # 'value'` (a Python literal as the comment) is checked: the expression must equal it.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

from conftest import DUMPS, PYTHON, ROOT, hub_env
from hub_server import HubServer

from dataset_builder.pipeline import build

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
REPO = "ORG/papers"  # the repository the README's release names in its settings file
_CLAIM = re.compile(r"^(?P<indent>\s*)(?P<expr>[^#\n]+?)\s+#\s*(?P<value>.+?)\s*$")


def checked(block: str) -> str:
    """The block with every `expression  # literal` line turned into an assertion."""
    lines = []
    for line in block.splitlines():
        match = _CLAIM.match(line)
        if match is not None and _is_expression(match["expr"]) and _is_literal(match["value"]):
            expr, value = match["expr"], match["value"]
            line = f"{match['indent']}assert ({expr}) == {value}, ({expr!r}, {expr})"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _is_expression(text: str) -> bool:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return not isinstance(tree.body, ast.Call) or "[" in text  # a bare call is a statement, not a claim


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return True


def test_the_readme_has_python_blocks_and_claims_to_check() -> None:
    assert len(BLOCKS) >= 3
    assert any("assert" in checked(block) for block in BLOCKS)


def test_every_python_block_in_the_readme_runs(hub: HubServer, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(DUMPS, project / "dumps")
    (project / "dataset-builder.toml").write_text(f'repo-id = "{REPO}"\n')
    build([project / "dumps"], project / "dist", repo_id=REPO)
    env = hub_env(hub, tmp_path / "home")
    blocks = json.dumps([checked(block) for block in BLOCKS])
    done = subprocess.run(
        [PYTHON, "-c", _RUN_BLOCKS, blocks], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{len(BLOCKS)} blocks ran"
    assert "v1.2.0" in hub.tags(REPO)  # the release block published and tagged


# The blocks in order in one fresh interpreter (a process costs 2-4 s of CPU, most of it imports), each
# in a namespace of its own, as if pasted alone: a block that needs another's names fails.
_RUN_BLOCKS = """
import json, sys, traceback
blocks = json.loads(sys.argv[1])
for number, code in enumerate(blocks, 1):
    try:
        exec(compile(code, f"<README python block {number}>", "exec"), {"__name__": "__main__"})
    except BaseException:
        print(f"README python block {number} failed:\\n{code}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
print(f"{len(blocks)} blocks ran")
"""

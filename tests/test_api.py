"""The library API: every name `dataset_builder` exports is what its docs say, however it is imported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import DUMPS, PYTHON, ROOT

import dataset_builder

# name -> (defining module, "function" or "class"), as README.md's Library section and the docstrings say
DOCUMENTED = {
    "BuildResult": ("dataset_builder.pipeline", "class"),
    "DatasetError": ("dataset_builder.errors", "class"),
    "FetchError": ("dataset_builder.errors", "class"),
    "FetchResult": ("dataset_builder.hub.fetch", "class"),
    "InvalidInput": ("dataset_builder.errors", "class"),
    "Paper": ("dataset_builder.records", "class"),
    "Problem": ("dataset_builder.records", "class"),
    "PublishError": ("dataset_builder.errors", "class"),
    "PublishResult": ("dataset_builder.hub.publish", "class"),
    "Report": ("dataset_builder.report", "class"),
    "build": ("dataset_builder.pipeline", "function"),
    "fetch_days": ("dataset_builder.hub.fetch", "function"),
    "find_dumps": ("dataset_builder.pipeline", "function"),
    "publish": ("dataset_builder.hub.publish", "function"),
    "validate_dumps": ("dataset_builder.pipeline", "function"),
    "verify_dist": ("dataset_builder.verify", "function"),
}

# Each way prints, per name and per access (two each), what it got.
_PROBE = """
import inspect, json, sys
documented = json.loads(sys.argv[1])
way = sys.argv[2]
{setup}
def describe(obj):
    kind = "function" if inspect.isfunction(obj) else "class" if inspect.isclass(obj) else type(obj).__name__
    return [getattr(obj, "__module__", None), getattr(obj, "__qualname__", None), kind]
seen = {{}}
for name in documented:
    got = []
    for _ in range(2):
{access}
        got.append(describe(obj))
    seen[name] = got
print(json.dumps(seen))
"""

WAYS = {
    "from-import": ("", "        exec(f'from dataset_builder import {name} as obj')"),
    "attribute": ("import dataset_builder", "        obj = getattr(dataset_builder, name)"),
    "after-submodules": (
        "import dataset_builder\nimport dataset_builder.pipeline\nimport dataset_builder.hub.publish\n"
        "import dataset_builder.report\nimport dataset_builder.verify",
        "        obj = getattr(dataset_builder, name)",
    ),
    "after-submodule-from-import": (
        "import dataset_builder.pipeline\nfrom dataset_builder.hub import publish as _module",
        "        exec(f'from dataset_builder import {name} as obj')",
    ),
    "star": ("from dataset_builder import *", "        obj = globals()[name]"),
}


def test_all_is_exactly_the_documented_names() -> None:
    assert sorted(dataset_builder.__all__) == sorted(DOCUMENTED)


# The probes run one after the other in one fresh interpreter (each process costs 2 s of CPU, most of it
# pyarrow, pandas and pandera, which the ways do not depend on); before each, every dataset_builder
# module is forgotten, so each way meets the package as a fresh interpreter does: not imported yet.
_RUN_PROBES = """
import json, sys
scripts, documented = json.loads(sys.argv[1]), sys.argv[2]
for way, script in scripts.items():
    for module in [m for m in sys.modules if m == "dataset_builder" or m.startswith("dataset_builder.")]:
        del sys.modules[module]
    sys.argv[1:] = [documented, way]
    exec(compile(script, way, "exec"), {"__name__": "__main__"})
"""


def test_every_name_is_the_documented_object_however_it_is_imported() -> None:
    scripts = {way: _PROBE.format(setup=setup, access=access) for way, (setup, access) in WAYS.items()}
    command = [PYTHON, "-c", _RUN_PROBES, json.dumps(scripts), json.dumps(DOCUMENTED)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    printed = run.stdout.splitlines()
    assert len(printed) == len(WAYS), run.stdout
    for way, line in zip(WAYS, printed, strict=True):
        seen = json.loads(line)
        for name, (module, kind) in DOCUMENTED.items():
            assert seen[name] == [[module, name, kind]] * 2, f"{way}: dataset_builder.{name} is {seen[name]}"


def test_unknown_names_are_attribute_errors() -> None:
    run = subprocess.run(
        [PYTHON, "-c", "import dataset_builder; dataset_builder.no_such_name"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "has no attribute 'no_such_name'" in run.stderr


def test_paths_may_be_strings_and_one_input_need_not_be_a_list(tmp_path: Path) -> None:
    """As in a notebook: `build("dumps", "dist")` means what `build([Path("dumps")], Path("dist"))` does
    (a bare string is one input, not a sequence of one-letter paths)."""
    dumps, out = str(DUMPS), str(tmp_path / "dist")
    assert dataset_builder.find_dumps(dumps) == dataset_builder.find_dumps([DUMPS])
    assert dataset_builder.validate_dumps(dumps).ok
    built = dataset_builder.build(dumps, out, near_duplicates="off")
    assert built.out == Path(out) and built.report.total("read") == 642
    assert dataset_builder.verify_dist(out).ok

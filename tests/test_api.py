"""The library API: every name `dataset_builder` exports is what its docs say, however it is imported."""

from __future__ import annotations

import json
import subprocess

from conftest import PYTHON, ROOT

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

# Each way runs in a fresh interpreter and prints, per name and per access (two each), what it got.
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


def test_every_name_is_the_documented_object_however_it_is_imported() -> None:
    for way, (setup, access) in WAYS.items():
        script = _PROBE.format(setup=setup, access=access)
        run = subprocess.run(
            [PYTHON, "-c", script, json.dumps(DOCUMENTED), way], capture_output=True, text=True, cwd=ROOT
        )
        assert run.returncode == 0, f"{way}: {run.stderr}"
        seen = json.loads(run.stdout)
        for name, (module, kind) in DOCUMENTED.items():
            assert seen[name] == [[module, name, kind]] * 2, f"{way}: dataset_builder.{name} is {seen[name]}"


def test_unknown_names_are_attribute_errors() -> None:
    run = subprocess.run(
        [PYTHON, "-c", "import dataset_builder; dataset_builder.no_such_name"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "has no attribute 'no_such_name'" in run.stderr

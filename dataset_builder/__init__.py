"""Build a validated, deduplicated Hugging Face dataset from text dumps of the Daily Papers page.

The library API, for notebooks and scripts; the `dataset-builder` command is a thin layer over it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dataset_builder.errors import DatasetError, FetchError, InvalidInput, PublishError
from dataset_builder.records import Paper, Problem

if TYPE_CHECKING:
    from dataset_builder.hub.fetch import FetchResult, fetch_days
    from dataset_builder.hub.publish import PublishResult, publish
    from dataset_builder.pipeline import BuildResult, build, find_dumps, validate_dumps
    from dataset_builder.report import Report
    from dataset_builder.verify import verify_dist

# Imported on first use, so `python -m dataset_builder validate` does not import huggingface_hub.
_LAZY = {
    "BuildResult": "pipeline",
    "build": "pipeline",
    "find_dumps": "pipeline",
    "validate_dumps": "pipeline",
    "FetchResult": "hub.fetch",
    "fetch_days": "hub.fetch",
    "PublishResult": "hub.publish",
    "publish": "hub.publish",
    "Report": "report",
    "verify_dist": "verify",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"dataset_builder.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dataset_builder' has no attribute {name!r}")


__all__ = [
    "BuildResult",
    "DatasetError",
    "FetchError",
    "FetchResult",
    "InvalidInput",
    "Paper",
    "Problem",
    "PublishError",
    "PublishResult",
    "Report",
    "build",
    "fetch_days",
    "find_dumps",
    "publish",
    "validate_dumps",
    "verify_dist",
]

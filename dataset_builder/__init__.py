"""Build a validated, deduplicated Hugging Face dataset from text dumps of the Daily Papers page.

The library API, for notebooks and scripts; the `dataset-builder` command is a thin layer over it.
"""

from dataset_builder.build import BuildResult, build, find_dumps, validate_dumps
from dataset_builder.publish import PublishResult, publish
from dataset_builder.records import DatasetError, InvalidInput, Paper, Problem, PublishError
from dataset_builder.report import Report
from dataset_builder.verify import verify_dist

__all__ = [
    "BuildResult",
    "DatasetError",
    "InvalidInput",
    "Paper",
    "Problem",
    "PublishError",
    "PublishResult",
    "Report",
    "build",
    "find_dumps",
    "publish",
    "validate_dumps",
    "verify_dist",
]

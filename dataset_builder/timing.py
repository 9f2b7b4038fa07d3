"""How long each stage took, logged at INFO (what `--verbose` shows)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("dataset_builder")


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Log `stage: 0.12 s` once the block has run (not when it raised)."""
    start = time.perf_counter()
    yield
    log_since(stage, start)


def log_since(stage: str, start: float) -> None:
    """Log `stage: 0.12 s` for a stage that began at `time.perf_counter()` value `start`."""
    log.info("%s: %.2f s", stage, time.perf_counter() - start)

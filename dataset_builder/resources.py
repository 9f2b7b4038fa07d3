"""Where the files in `schemas/` and `cards/` are: inside the wheel, or beside the package in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource(relative: str) -> Path:
    """Path of a shipped file such as `schemas/paper.yaml`, for installed wheels and checkouts alike."""
    packaged = _PACKAGE / "_resources" / relative
    if packaged.exists():
        return packaged
    return _PACKAGE.parent / relative

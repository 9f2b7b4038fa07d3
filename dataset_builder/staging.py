"""The output folder: what may be replaced, the staging folder beside it, the swap, and stops.

A build writes into `.{out}-build-{pid}-XXXX` beside `--out` and holds an exclusive `flock` on that
folder while it runs; the lock moves with the folder when it is swapped in and ends with the build (or
its process). A staging folder whose lock can be taken and whose process is gone was left by a build
that was killed outright; the next build removes it. Nothing else beside `--out` is ever touched.

`stop_on_signals` turns SIGINT and SIGTERM into `Interrupted`, so the staging folder is removed on the
way out like after any failure; during the swap the stop waits until both renames are done.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dataset_builder.errors import CardError, DatasetError, Interrupted
from dataset_builder.layout import CARD, PROVENANCE_KEY, SHARD_DIR

log = logging.getLogger(__name__)

_OWNER = re.compile(r"-build-(\d+)-")
_STOPS = (signal.SIGINT, signal.SIGTERM)


class _Stops:
    """While `deferring`, a stop signal is kept in `pending` instead of raised."""

    deferring = False
    pending: int | None = None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise `Interrupted` in the main thread on SIGINT or SIGTERM; later ones are ignored while the
    run cleans up. The previous handlers are restored after the block."""

    def stop(signum: int, frame: object) -> None:
        if _Stops.deferring:
            _Stops.pending = signum
            return
        for other in _STOPS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; the caller's own stay in charge
        return
    previous = {signum: signal.signal(signum, stop) for signum in _STOPS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _deferred_stops() -> Iterator[None]:
    """Hold a stop until the block is done; then raise it, marked as coming after the work."""
    _Stops.deferring, _Stops.pending = True, None
    try:
        yield
    finally:
        _Stops.deferring = False
    if _Stops.pending is not None:
        signum, _Stops.pending = _Stops.pending, None
        raise Interrupted(signum, completed=True)


def target_of(out: Path) -> Path:
    """The folder a build replaces: `out` itself, or what it links to (the link is kept)."""
    return out.resolve() if out.is_symlink() else out.absolute()


def check_replaceable(out: Path) -> None:
    """Refuse to replace anything but a previous build: `--out` must never eat the user's files.

    A previous build has a README.md whose YAML carries the `dataset_builder` block only this tool
    writes, and holds no file but that card and the shards it lists. An empty folder is replaceable too.
    """
    target = target_of(out)
    if not target.exists():
        return
    if not target.is_dir():
        raise DatasetError(
            f"{out} exists and is not a folder; choose another --out or remove it",
            file=str(out),
            rule="out-not-a-build",
        )
    entries = sorted(target.rglob("*"))
    if not entries:
        return
    shards = _card_shards(target / CARD)
    if shards is None:
        raise DatasetError(
            f"{out} does not look like a build output (no README.md with a {PROVENANCE_KEY} block); "
            "nothing was touched: choose another --out or remove it",
            file=str(out / CARD),
            rule="out-not-a-build",
        )
    for path in entries:
        relative = path.relative_to(target).as_posix()
        mode = path.lstat().st_mode
        built = relative == SHARD_DIR and stat.S_ISDIR(mode)
        built = built or (stat.S_ISREG(mode) and (relative == CARD or relative in shards))
        if not built:
            raise DatasetError(
                f"{out} does not look like a build output: {relative} is not a file the build wrote "
                "(its card lists only README.md and the shards); nothing was touched: choose another "
                "--out or remove it",
                file=str(out / relative),
                rule="out-not-a-build",
            )


def _card_shards(card: Path) -> set[str] | None:
    """The shard paths a build's card records, or None when the card is not one this tool wrote."""
    if not card.is_file() or card.is_symlink():
        return None
    from dataset_builder.card import read_card  # imports huggingface_hub: only when an --out exists

    try:
        return set(read_card(card).shards)
    except CardError:
        return None


@contextmanager
def staging_folder(target: Path) -> Iterator[Path]:
    """A new staging folder beside `target`, locked while the block runs and removed after it (unless
    the block swapped it in).

    Staging folders that dead builds left beside `target` are removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_stagings(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-build-{os.getpid()}-", dir=target.parent))
    lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        staging.chmod(0o755)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone when it was swapped in
        os.close(lock)


def remove_dead_stagings(target: Path) -> list[Path]:
    """Remove the staging folders of builds that were killed (unlocked, owner gone); return them."""
    removed = []
    prefix = f".{target.name}-build-"
    for path in sorted(target.parent.glob(f"{_glob_escape(prefix)}*")):
        owner = _OWNER.match(path.name[len(target.name) + 1 :])
        if owner is None or path.is_symlink() or not path.is_dir() or _alive(int(owner[1])):
            continue
        try:
            lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live build holds it (its process id was reused, or it runs on another host)
        else:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            log.info("removed %s, left by a build that was killed", path)
        finally:
            os.close(lock)
    return removed


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def swap(staging: Path, target: Path) -> None:
    """Put the new build in place; the old one is removed only after the new one is there.

    A stop (SIGINT, SIGTERM) waits until both renames are done, so it never leaves `target` missing.
    """
    with _deferred_stops():
        if target.exists():
            old = staging.with_name(f"{staging.name}-old")
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old)
        else:
            staging.rename(target)

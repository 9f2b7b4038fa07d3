"""The output folder: what may be replaced, the staging folder beside it, the swap, and stops.

A build writes into `.{out}-build-{pid}-XXXX` beside `--out` and holds an exclusive `flock` on that
folder while it runs; the lock moves with the folder when it is swapped in and ends with the build (or
its process). A staging folder whose lock can be taken and whose process is gone was left by a build
that was killed outright; the next build removes it, except a previous build that a killed swap had
moved aside (`-old`) while `--out` is missing: that one is put back. Nothing else beside `--out` is
ever touched. When `--out` is a mount point (a Docker volume, a tmpfs), which cannot be renamed, the
staging folder is inside it and the swap exchanges its entries (the card and `data/`).

The swap exchanges the two folders in one step (Linux `renameat2(RENAME_EXCHANGE)`), or, where the file
system cannot, renames the old one aside and the new one in. It refuses, and leaves both folders as they
were, when the old one holds a file the build did not write (one written while the build ran).

A stop (runner.stop_on_signals: SIGINT, SIGTERM, SIGHUP) removes the staging folder on the way out like
any failure; during the swap it waits until the swap is done (runner.deferred_stops).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import glob
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dataset_builder.errors import CardError, DatasetError, FileSystemError
from dataset_builder.layout import CARD, PROVENANCE_KEY, SHARD_DIR
from dataset_builder.runner import deferred_stops

log = logging.getLogger(__name__)

_OWNER = re.compile(r"-build-(\d+)-")
_OLD = "-old"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def target_of(out: Path) -> Path:
    """The folder a build replaces: `out` itself, or what it links to (the link is kept).

    Raises FileSystemError when the link cannot be followed (a symlink loop)."""
    try:
        return out.resolve() if out.is_symlink() else out.absolute()
    except (OSError, RuntimeError) as e:  # RuntimeError: a loop, before Python 3.13
        raise FileSystemError(out, e, "choose another --out") from e


def check_replaceable(out: Path) -> None:
    """Refuse to replace anything but a previous build: `--out` must never eat the user's files.

    A previous build has a README.md whose YAML carries the `dataset_builder` block only this tool
    writes, and holds no file but that card and the shards it lists (and, on a mount point, the
    staging folders of builds). An empty folder is replaceable too.
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
    foreign = _foreign(target)
    if foreign == CARD:
        raise DatasetError(
            f"{out} does not look like a build output (no README.md with a {PROVENANCE_KEY} block); "
            "nothing was touched: choose another --out or remove it",
            file=str(out / CARD),
            rule="out-not-a-build",
        )
    if foreign is not None:
        raise DatasetError(
            f"{out} does not look like a build output: {foreign} is not a file the build wrote "
            "(its card lists only README.md and the shards); nothing was touched: choose another "
            "--out or remove it",
            file=str(out / foreign),
            rule="out-not-a-build",
        )


def _foreign(folder: Path) -> str | None:
    """The first path in `folder` (relative) that no build wrote; README.md when it is not a build's card;
    None when `folder` holds a build or nothing."""
    inside = _staging_prefix(folder) if os.path.ismount(folder) else None
    entries = sorted(
        path
        for path in folder.rglob("*")
        if inside is None or not path.relative_to(folder).parts[0].startswith(inside)
    )
    if not entries:
        return None
    shards = _card_shards(folder / CARD)
    if shards is None:
        return CARD
    for path in entries:
        relative = path.relative_to(folder).as_posix()
        mode = path.lstat().st_mode
        built = relative == SHARD_DIR and stat.S_ISDIR(mode)
        built = built or (stat.S_ISREG(mode) and (relative == CARD or relative in shards))
        if not built:
            return relative
    return None


def _card_shards(card: Path) -> set[str] | None:
    """The shard paths a build's card records, or None when the card is not one this tool wrote."""
    if not card.is_file() or card.is_symlink():
        return None
    from dataset_builder.card import read_card  # imports huggingface_hub: only when an --out exists

    try:
        return set(read_card(card).shards)
    except CardError:
        return None


def _staging_prefix(target: Path) -> str:
    return f".{target.name}-build-"


def _staging_parent(target: Path) -> Path:
    """Where the staging folders of `target` go: beside it, or inside it when it is a mount point."""
    return target if os.path.ismount(target) else target.parent


@contextmanager
def staging_folder(target: Path) -> Iterator[Path]:
    """A new staging folder beside `target` (inside it on a mount point), locked while the block runs
    and removed after it (unless the block swapped it in).

    Staging folders that dead builds left beside `target` are removed first (see remove_dead_stagings).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_stagings(target)
    parent = _staging_parent(target)
    staging = Path(tempfile.mkdtemp(prefix=f"{_staging_prefix(target)}{os.getpid()}-", dir=parent))
    lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        staging.chmod(0o755)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone when it was swapped in
        os.close(lock)


def remove_dead_stagings(target: Path) -> list[Path]:
    """Remove the staging folders of builds that were killed (unlocked, owner gone); return them.

    A previous build that a killed swap had moved aside (`...-old`) while `target` is missing is put
    back in place instead, never removed.
    """
    removed = []
    prefix = _staging_prefix(target)
    parent = _staging_parent(target)
    for path in sorted(parent.glob(f"{glob.escape(prefix)}*"), key=lambda p: not p.name.endswith(_OLD)):
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
            if path.name.endswith(_OLD) and not os.path.lexists(target):
                path.rename(target)
                log.warning("put back %s as %s: a build was killed while replacing it", path, target)
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            log.info("removed %s, left by a build that was killed", path)
        finally:
            os.close(lock)
    return removed


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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step; False when the system or file system cannot (nothing was done)."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def swap(staging: Path, target: Path) -> None:
    """Put the new build in place; the old one is removed only after the new one is there.

    Refuses (DatasetError) when the old build now holds a file the build did not write, leaving it
    and the staging folder as they were. A stop (SIGINT, SIGTERM, SIGHUP) waits until the swap is done,
    so it never leaves `target` missing.
    """
    with deferred_stops():
        if staging.parent == target:  # on a mount point: exchange the entries
            _swap_entries(staging, target)
        elif not target.exists():
            staging.rename(target)
        elif _exchange(staging, target):
            if (foreign := _foreign(staging)) is not None:
                _exchange(staging, target)
                raise _written_meanwhile(target, foreign)
            shutil.rmtree(staging)  # now the old build
        else:
            old = staging.with_name(f"{staging.name}{_OLD}")
            target.rename(old)
            if (foreign := _foreign(old)) is not None:
                old.rename(target)
                raise _written_meanwhile(target, foreign)
            staging.rename(target)
            shutil.rmtree(old)


def _swap_entries(staging: Path, target: Path) -> None:
    """The swap on a mount point: the card and `data/` exchanged one by one, the card last."""
    if (foreign := _foreign(target)) is not None:
        raise _written_meanwhile(target, foreign)
    for name in (SHARD_DIR, CARD):
        new, old = staging / name, target / name
        if not new.exists():
            continue
        if not old.exists() or not _exchange(new, old):
            if old.exists():
                old.rename(staging / f"{name}{_OLD}")
            new.rename(old)


def _written_meanwhile(target: Path, foreign: str) -> DatasetError:
    return DatasetError(
        f"{target / foreign} appeared in {target} while the build ran and is not a file a build writes; "
        f"the new build was not put in place and {target} was left as it was: move that file elsewhere "
        "and build again",
        file=str(target / foreign),
        rule="out-not-a-build",
    )

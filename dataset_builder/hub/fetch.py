"""The Hub's Daily Papers listing -> one dump per day, `YYYY-MM-DD.jsonl`: each line one paper, the API's
JSON object exactly as received (every field kept, keys sorted, UTF-8), in the order the Hub lists them.

`HfApi.list_daily_papers` asks for the same URL, but it cannot give the raw objects: it yields
`PaperInfo(**entry)`, whose constructor pops keys out of the entry and its nested `paper` dict, so fields
it does not know are lost. This module sends the same request (endpoint, `date`/`p`/`limit`, the client's
headers and token) through huggingface_hub's shared session, and checks every entry still parses as
`PaperInfo` so a stored line is one the client reads.

A file is written whole or not at all (a temporary file beside it, then `os.replace`), so a stopped run
leaves every file either complete or as it was.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx2
from huggingface_hub import HfApi, get_session, hf_raise_for_status
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import PaperInfo
from huggingface_hub.utils import build_hf_headers
from tqdm import tqdm

from dataset_builder.errors import FetchError
from dataset_builder.hub.http import DEFAULT_RETRIES, GaveUp, Retries, timeout_of
from dataset_builder.records import StrPath, hide_passwords

PAGE_SIZE = 50  # list_daily_papers' default `limit`; a full page means there may be another
SUFFIX = ".jsonl"


Outcome = Literal["written", "refreshed", "unchanged", "empty", "kept"]
OUTCOMES: tuple[Outcome, ...] = ("written", "refreshed", "unchanged", "empty", "kept")
_DETAILS = {
    "empty": "no papers listed; no file written",
    "kept": "already fetched; --refresh fetches it again",
}


@dataclass
class FetchResult:
    """What fetch did with each day (YYYY-MM-DD), in date order: written (a new file), refreshed (a file
    replaced by a changed listing), unchanged (fetched again, same bytes, file not touched), empty (no
    papers listed: nothing written) or kept (a file was there and --refresh not given: not fetched)."""

    out: Path
    days: dict[str, Outcome] = field(default_factory=dict)
    papers: dict[str, int] = field(default_factory=dict)  # papers in each day's listing, when fetched

    def by(self, outcome: Outcome) -> list[str]:
        """The days with this outcome."""
        return [day for day, done in self.days.items() if done == outcome]

    def path(self, day: str) -> Path:
        return self.out / f"{day}{SUFFIX}"

    def summary(self) -> str:
        """One line per day, then the count of each outcome."""
        lines = []
        for day, outcome in self.days.items():
            detail = _DETAILS.get(outcome, f"{self.papers.get(day)} papers")
            if outcome == "empty" and self.path(day).exists():
                detail = "no papers listed now; the file was left as it was"
            lines.append(f"{outcome:<9} {self.path(day)}: {detail}")
        counts = ", ".join(f"{len(self.by(o))} {o}" for o in OUTCOMES if self.by(o))
        lines.append(f"Fetched into {self.out}: {counts or 'no days'}.")
        return "\n".join(lines)


def days_between(since: date, until: date) -> list[date]:
    """Every day from `since` to `until`, both included."""
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def fetch_days(
    days: list[date],
    out: StrPath,
    *,
    refresh: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
    retries: Retries = DEFAULT_RETRIES,
    progress: bool = False,
) -> FetchResult:
    """Write the Daily Papers of each of `days` into `out` as `YYYY-MM-DD.jsonl` (see the module).

    A day that already has a file is not fetched unless `refresh`; a refreshed file is replaced only when
    its content changed. A day without papers writes nothing (`out` is made only for a file). The token
    is optional (`token`, else HF_TOKEN or the saved login). Raises FetchError naming the day when the
    Hub cannot be reached, keeps failing or refusing, or sends something that is not a list of papers.
    """
    out = Path(out)
    endpoint = HfApi(endpoint=endpoint).endpoint
    headers = build_hf_headers(token=token)
    result = FetchResult(out)
    for day in (d.isoformat() for d in days):
        path = result.path(day)
        existed = path.exists()
        if existed and not refresh:
            result.days[day] = "kept"
            continue
        try:
            entries = list(_entries(endpoint, headers, day, retries, progress))
        except GaveUp as e:
            raise FetchError(f"{day}: {e.describe(endpoint)}; {_retry(result)}", file=str(path)) from e
        except HfHubHTTPError as e:
            status = e.response.status_code if e.response is not None else None
            advice = " (fetch needs no token: unset HF_TOKEN or fix it)" if status == 401 else ""
            raise FetchError(
                f"{day}: the Hub refused the request (HTTP {status}: {e.server_message or e}){advice}; "
                f"{_retry(result)}",
                file=str(path),
            ) from e
        except httpx2.HTTPError as e:
            raise FetchError(
                f"{day}: could not reach the Hub at {hide_passwords(endpoint)} ({type(e).__name__}: {e}); "
                f"{_retry(result)}",
                file=str(path),
            ) from e
        if not entries:
            result.days[day] = "empty"
            continue
        result.papers[day] = len(entries)
        data = "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entries).encode()
        if existed and path.read_bytes() == data:
            result.days[day] = "unchanged"
            continue
        out.mkdir(parents=True, exist_ok=True)  # only once there is a file to put in it
        _replace(path, data)
        result.days[day] = "refreshed" if existed else "written"
    return result


def _entries(
    endpoint: str, headers: dict[str, str], day: str, retries: Retries, progress: bool
) -> Iterator[dict[str, Any]]:
    """The raw entries of one day, every page, checked to parse as the client's PaperInfo."""
    with tqdm(desc=day, unit="paper", disable=not progress) as bar:
        page = 0
        previous: list[Any] | None = None
        while True:
            entries = retries.call(_page, endpoint, headers, day, page, retries.timeout, idempotent=True)
            if entries == previous:  # a Hub that ignores `p` would send the same full page for ever
                raise FetchError(f"{day}: the Hub sent page {page} twice; it does not page this listing")
            for number, entry in enumerate(entries):
                try:
                    PaperInfo(**copy.deepcopy(entry))  # PaperInfo pops keys: keep `entry` whole
                except (TypeError, ValueError, AttributeError, KeyError) as e:
                    raise FetchError(
                        f"{day}: entry {page * PAGE_SIZE + number + 1} is not a paper huggingface_hub "
                        f"can read ({type(e).__name__}: {e})"
                    ) from e
                yield entry
            bar.update(len(entries))
            if len(entries) < PAGE_SIZE:
                return
            previous, page = entries, page + 1


def _page(endpoint: str, headers: dict[str, str], day: str, page: int, timeout: float) -> list[Any]:
    """One page of `day`, requested as `HfApi.list_daily_papers(date=day, p=page, limit=PAGE_SIZE)`."""
    params: dict[str, str | int] = {"p": page, "limit": PAGE_SIZE, "date": day}
    response = get_session().get(
        f"{endpoint}/api/daily_papers", params=params, headers=headers, timeout=timeout_of(timeout)
    )
    hf_raise_for_status(response)
    try:
        entries = response.json()
    except ValueError as e:
        raise FetchError(f"{day}: the Hub answered page {page} with something other than JSON ({e})") from e
    if not isinstance(entries, list):
        raise FetchError(f"{day}: the Hub answered page {page} with {type(entries).__name__}, not a list")
    return entries


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole: a temporary file beside it, flushed to disk, then renamed over it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:  # also a stop (Interrupted): no temporary file is left behind
        Path(temporary).unlink(missing_ok=True)
        raise


def _retry(result: FetchResult) -> str:
    done = len(result.by("written")) + len(result.by("refreshed"))
    if not done:
        return "nothing was written; run fetch again later"
    return f"the {done} day(s) before it were written; run fetch again later for the rest"

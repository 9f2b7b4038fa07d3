"""How this tool talks to the Hub over HTTP: timeouts, and which failures are retried and how long to wait.

One place for every Hub request (fetch's own, and publish's through `HfApi`):

- 429 (rate limited) and 503 with `Retry-After` were refused before anything was applied: every request
  is retried after the time the Hub asks for (seconds or an HTTP date), capped at `Retries.max_wait`.
- Other 5xx, timeouts and dropped connections are retried only for idempotent requests (reads): a write
  such as `create_commit` may have been applied before its answer was lost, so it is never sent twice.
  A connection that could not be opened at all is retried for every request (nothing was sent).
- Other waits back off exponentially from `Retries.base_wait`; after `Retries.tries` attempts the last
  failure is raised as `GaveUp`, which says how long the tool waited.

Downloads (`hf_hub_download`, `HfFileSystem` reads) are left to huggingface_hub, which already retries
them with its own backoff.

Timeouts: `HfApi` methods that accept one get `Retries.timeout` per call; `create_commit` and a few others
only use the shared client's default, which huggingface_hub creates without any timeout, so the CLI (never
the library: it is process-wide) installs `client_factory` with `huggingface_hub.set_client_factory`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from huggingface_hub.utils import _http as hf_http  # for default_client_factory, which is not exported

from dataset_builder.hub.defaults import CONNECT_TIMEOUT, TIMEOUT, TRIES
from dataset_builder.records import hide_passwords

T = TypeVar("T")
log = logging.getLogger(__name__)

_RETRIED_STATUSES = frozenset({408, 500, 502, 503, 504})  # for idempotent requests
_TRANSIENT = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)


def timeout_of(seconds: float) -> httpx2.Timeout:
    """`seconds` to read, write or wait for a pooled connection; at most CONNECT_TIMEOUT to connect."""
    return httpx2.Timeout(seconds, connect=min(seconds, CONNECT_TIMEOUT))


def client_factory(seconds: float = TIMEOUT) -> Callable[[], httpx2.Client]:
    """A factory for `huggingface_hub.set_client_factory`: huggingface_hub's default client (which has no
    timeout at all), with timeouts."""

    def make() -> httpx2.Client:
        client = hf_http.default_client_factory()  # keeps its hooks: offline mode, request ids
        client.timeout = timeout_of(seconds)
        return client

    return make


class GaveUp(Exception):
    """A request still failed after every retry; `error` is the last failure."""

    def __init__(self, error: Exception, tries: int, waited: float) -> None:
        self.error, self.tries, self.waited = error, tries, waited
        self.status = _status(error)
        super().__init__(self.describe())

    def describe(self, endpoint: str = "") -> str:
        """What happened, e.g. `rate limited by the Hub (HTTP 429): still refused, after 4 tries and 63 s
        of waiting`; `endpoint` (shown without a password) says which Hub could not be reached."""
        every = " every time"
        if self.status == 429:
            what, every = "rate limited by the Hub (HTTP 429)", ": still refused"
        elif self.status is not None:
            what = f"the Hub failed on its side (HTTP {self.status})"
        elif isinstance(self.error, httpx2.TimeoutException):
            what = f"the Hub did not answer in time ({type(self.error).__name__})"
        else:
            at = f" at {hide_passwords(endpoint)}" if endpoint else ""
            what = f"could not reach the Hub{at} ({type(self.error).__name__}: {self.error})"
        if self.tries == 1:
            return f"{what}, not retried"
        return f"{what}{every}, after {self.tries} tries and {self.waited:.0f} s of waiting"


@dataclass(frozen=True)
class Retries:
    """How long a Hub request may take and how it is retried; `sleep` is injectable for tests."""

    tries: int = TRIES  # attempts in all; 1 never retries
    base_wait: float = 1.0  # the first backoff; doubled each time
    max_wait: float = 60.0  # cap on any single wait, backoff or Retry-After
    timeout: float = TIMEOUT
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def call(self, fn: Callable[..., T], *args: Any, idempotent: bool, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, retried as the module docstring says; GaveUp when retries run out."""
        waited, attempt = 0.0, 1
        while True:
            try:
                return fn(*args, **kwargs)
            except (HfHubHTTPError, httpx2.TransportError) as e:
                wait = self._wait(e, attempt, idempotent)
                if wait is None:
                    raise
                if attempt >= self.tries:
                    raise GaveUp(e, attempt, waited) from e
                attempt += 1
                log.warning("%s; retrying in %.0f s (try %d of %d)", _short(e), wait, attempt, self.tries)
                self.sleep(wait)
                waited += wait

    def _wait(self, error: Exception, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before trying `error`'s request again, or None when it must not be retried."""
        backoff = min(self.max_wait, self.base_wait * 2.0 ** (attempt - 1))
        status = _status(error)
        asked = _retry_after(error)
        if status == 429 or (status == 503 and asked is not None):
            return backoff if asked is None else min(self.max_wait, asked)
        if isinstance(error, (httpx2.ConnectError, httpx2.ConnectTimeout)):
            return backoff  # no connection, so nothing was sent
        if idempotent and (status in _RETRIED_STATUSES or isinstance(error, _TRANSIENT)):
            return backoff
        return None


DEFAULT_RETRIES = Retries()


class RetryingHfApi(HfApi):
    """`HfApi` whose calls used by publish are retried per `Retries` (reads per call with its timeout)."""

    def __init__(self, *args: Any, retries: Retries, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retries = retries

    def dataset_info(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.retries.timeout)
        return self.retries.call(super().dataset_info, *args, idempotent=True, **kwargs)

    def list_repo_refs(self, *args: Any, **kwargs: Any) -> Any:
        return self.retries.call(super().list_repo_refs, *args, idempotent=True, **kwargs)

    def hf_hub_download(self, *args: Any, **kwargs: Any) -> Any:
        """Not retried here: huggingface_hub already retries a failed download request with backoff."""
        kwargs.setdefault("etag_timeout", self.retries.timeout)
        try:
            return super().hf_hub_download(*args, **kwargs)
        except LocalEntryNotFoundError as e:
            # A request that failed for good (no connection, 5xx, 429, 403) comes back as a file missing
            # from the local cache, which callers would take for a file missing on the Hub.
            if isinstance(e.__cause__, (HfHubHTTPError, httpx2.TransportError)):
                raise e.__cause__ from e
            raise

    def get_repo_discussions(self, *args: Any, **kwargs: Any) -> Any:
        # A generator in HfApi: read it whole inside the retry so a failure on a later page is retried.
        def read() -> list[Any]:
            return list(super(RetryingHfApi, self).get_repo_discussions(*args, **kwargs))

        return iter(self.retries.call(read, idempotent=True))

    def create_repo(self, *args: Any, **kwargs: Any) -> Any:
        return self.retries.call(super().create_repo, *args, idempotent=False, **kwargs)

    def create_branch(self, *args: Any, **kwargs: Any) -> Any:
        return self.retries.call(super().create_branch, *args, idempotent=False, **kwargs)

    def create_commit(self, *args: Any, **kwargs: Any) -> Any:
        return self.retries.call(super().create_commit, *args, idempotent=False, **kwargs)

    def create_tag(self, *args: Any, **kwargs: Any) -> Any:
        return self.retries.call(super().create_tag, *args, idempotent=False, **kwargs)


def _response(error: Exception) -> httpx2.Response | None:
    """The Hub's answer to a refused request; None for a request that got no answer."""
    return error.response if isinstance(error, HfHubHTTPError) else None


def _status(error: Exception) -> int | None:
    response = _response(error)
    return None if response is None else response.status_code


def _retry_after(error: Exception) -> float | None:
    """The `Retry-After` of a refused request in seconds (from seconds or an HTTP date), or None."""
    response = _response(error)
    value = None if response is None else response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _short(error: Exception) -> str:
    """The failure and its request, for the log: `GET https://.../api/daily_papers?... : HTTP 429`."""
    status = _status(error)
    what = f"HTTP {status}" if status is not None else f"{type(error).__name__}: {error}"
    response = _response(error)
    try:
        request = response.request if response is not None else error.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx2 raises RuntimeError when it has no request
        return what
    return f"{request.method} {hide_passwords(str(request.url))}: {what}"

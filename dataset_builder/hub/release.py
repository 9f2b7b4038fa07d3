"""A release: the card the Hub gets, the changelog it carries, and whether `dist/` matches the dumps.

The local card (`build`) is a pure function of the dumps and the settings. The card `publish` uploads is
that card with the target repository's id in its snippets and the release history: a `Versions` section
(this version, how to pin it, the changelog) before `## Fields`, and the same entries, machine-readable,
under `dataset_builder.releases` in the YAML, from which the next release reads the earlier ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

from huggingface_hub import DatasetCard

from dataset_builder.card import read_card, template
from dataset_builder.errors import CardError, DatasetError, PublishError
from dataset_builder.hub.changes import Changes
from dataset_builder.layout import (
    ALL_SPLIT,
    CARD,
    DEFAULT_CONFIG,
    DEFAULT_REPO_ID,
    PROVENANCE_KEY,
    dump_files,
)
from dataset_builder.pipeline import BuildResult, build, find_dumps
from dataset_builder.read import sha256_of
from dataset_builder.settings import Settings

TEMPLATE = "cards/release.md.j2"
# Semantic versions with a leading v, as tags: v1.2.3, v1.2.3-rc.1
TAG = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")
_BEGIN = "<!-- dataset-builder:release -->\n"
_END = "<!-- /dataset-builder:release -->\n\n"
_ANCHOR = "\n## Fields\n"


@dataclass(frozen=True)
class Release:
    """One changelog entry; `version` is None for an untagged publish."""

    version: str | None
    date: str
    papers: int
    added: int
    removed: int
    changed: int
    note: str = ""  # what changed for code that loads the dataset, in words


def metadata(card: DatasetCard) -> dict[str, Any]:
    """A card's YAML as plain data."""
    return dict(cast(Any, card.data).to_dict())


def check_tag(tag: str) -> str:
    if not TAG.match(tag):
        raise DatasetError(f"{tag!r} is not a semantic version tag like v1.2.0")
    return tag


def new_release(tag: str | None, changes: Changes, published: str | None = None) -> Release:
    """The changelog entry of a publish made today (UTC) over the card `published`: the dumps carry no
    year, so no dump date."""
    date = datetime.now(UTC).date().isoformat()
    counts = (changes.after, len(changes.added), len(changes.removed), len(changes.changed))
    return Release(tag, date, *counts, note=layout_note(published))


def layout_note(published: str | None) -> str:
    """The note of the first release in the layout of docs/layout.md over one in the layout before
    (one split per dump in the default config); empty otherwise."""
    try:
        splits = read_card(published).configs[DEFAULT_CONFIG] if published else {ALL_SPLIT: []}
    except CardError:
        return ""
    if set(splits) == {ALL_SPLIT}:
        return ""
    return (
        f"`load_dataset(REPO)` now gives one split, `{ALL_SPLIT}`, with every paper, instead of one split "
        f'per dump; a dump\'s papers load with `data_files="{dump_files("<dump>")}"`. Versions tagged '
        "before keep their layout."
    )


def removal_refusal(changes: Changes, allowed: bool) -> str | None:
    """Why a publish removing more than half of the published papers is refused; None if it is not."""
    if allowed or len(changes.removed) * 2 <= changes.before:
        return None
    return (
        f"it would remove {len(changes.removed)} of the {changes.before} published papers; "
        "give --allow-removals if that is meant"
    )


def pin(repo_id: str, tag: str) -> str:
    """The line a researcher copies to load exactly this version."""
    return f'load_dataset("{repo_id}", revision="{tag}")'


def history(card_text: str | None) -> list[Release]:
    """The releases recorded in a card (newest first); none for a card this tool did not publish."""
    if not card_text:
        return []
    try:
        known = {f.name for f in fields(Release)}  # a newer tool or a hand edit may add keys: ignore them
        return [
            Release(**{k: v for k, v in entry.items() if k in known})
            for entry in read_card(card_text).releases
        ]
    except (CardError, TypeError, AttributeError):
        return []


def compose_card(local: str, repo_id: str, releases: Sequence[Release]) -> str:
    """The card to upload: `local` naming `repo_id`, with `releases` (newest first) as its changelog."""
    try:
        named = read_card(local).repo_id
    except CardError:
        named = DEFAULT_REPO_ID
    card = DatasetCard(local)
    block = dict(metadata(card).get(PROVENANCE_KEY) or {})
    block["repo_id"] = repo_id
    block["releases"] = [asdict(r) for r in releases]
    card.data[PROVENANCE_KEY] = block
    text = card.text.replace(f'"{named}"', f'"{repo_id}"').replace(f"`{named}`", f"`{repo_id}`")
    if _BEGIN in text:  # a folder downloaded from the Hub: replace its section
        start = text.index(_BEGIN)
        text = text[:start] + text[text.index(_END, start) + len(_END) :]
    if releases:  # before the field list, near the load snippet; at the end if the card has none
        section = template(TEMPLATE).render(repo_id=repo_id, current=releases[0], releases=releases)
        if _ANCHOR not in text and not text.endswith("\n\n"):
            text += "\n"
        at = text.index(_ANCHOR) + 1 if _ANCHOR in text else len(text)
        text = text[:at] + _BEGIN + section + _END + text[at:]
    card.text = text
    return str(card.content)


def stale(dist: Path, dumps: Sequence[Path], settings: Settings | None = None) -> str | None:
    """Why `dist` is not the build of `dumps` (and, given `settings`, of them): None when it is.

    Compares the sha256 of every dump with the card's provenance; with settings, also the card metadata
    they decide (repository id, pretty name, license) and the policies that decide the rows
    (on-conflict, near-duplicates)."""
    card_path = dist / CARD
    if not card_path.is_file():
        return f"{dist} has no build"
    try:
        card = read_card(card_path)
    except CardError:
        return f"{card_path} is not a card this tool wrote"
    built = card.sources
    on_disk = {p.name: sha256_of(p) for p in dumps}
    if built != on_disk:
        added = sorted(set(on_disk) - set(built))
        gone = sorted(set(built) - set(on_disk))
        edited = sorted(n for n in set(on_disk) & set(built) if on_disk[n] != built[n])
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (("new", added), ("gone", gone), ("edited", edited))
            if names
        ]
        return f"{dist} was built from other dumps ({'; '.join(parts)})"
    if settings is not None:
        wanted: dict[str, Any] = {"pretty_name": settings.pretty_name, **settings.license_fields()}
        differs = sorted(k for k, v in wanted.items() if card.data.get(k) != v)
        if card.repo_id != (settings.repo_id or DEFAULT_REPO_ID):
            differs.append("repo-id")
        policies = card.data.get(PROVENANCE_KEY, {}).get("policies") or {}
        for name in ("on_conflict", "near_duplicates"):
            if policies.get(name) != getattr(settings, name):
                differs.append(name.replace("_", "-"))
        if differs:
            return f"{dist} was built with other settings ({', '.join(differs)})"
    return None


class Prepared(NamedTuple):
    """The project's build, ready to publish: `rebuilt` says why it was rebuilt (None if it was not),
    `build` is that build's result (its report holds the near-duplicate and revision warnings)."""

    dist: Path
    dumps: list[Path]
    rebuilt: str | None
    build: BuildResult | None


def prepare(settings: Settings, progress: bool = False) -> Prepared:
    """The project's build, rebuilt first when missing or out of date with its dumps and settings.

    Raises PublishError if even the fresh build does not match the dumps (they changed while it ran):
    nothing stale is ever published."""
    dumps = find_dumps([settings.input])
    reason = stale(settings.out, dumps, settings)
    result = None
    if reason is not None:
        result = build(
            [settings.input],
            settings.out,
            repo_id=settings.repo_id or DEFAULT_REPO_ID,
            settings=settings,
            progress=progress,
            on_conflict=settings.on_conflict,
            near_duplicates=settings.near_duplicates,
        )
        if (again := stale(settings.out, dumps)) is not None:
            raise PublishError(f"{again}: the dumps changed during the build; run publish again")
    return Prepared(settings.out, dumps, reason, result)

"""parse.py: both page layouts, the variations a browser copy brings, and what cannot be paired."""

from __future__ import annotations

import datetime
import itertools
import random
import tempfile
from pathlib import Path

import goldens
import pyarrow as pa
import pytest
from conftest import abstract

from dataset_builder.parse import (
    ABSTRACT_MIN_CHARS,
    FEW_LINES,
    PAIRING,
    PLAIN_PAIRS,
    START,
    TITLE_MAX_CHARS,
    Code,
    Emit,
    Papers,
    State,
    classify,
    code_of,
    page_date,
    parse_dump,
    step,
)
from dataset_builder.records import Paper, Problem
from dataset_builder.schema import paper_schema


def run(texts: list[str], blank_lines: bool = False) -> list[Paper | Problem]:
    """Parse `texts` as the lines of a dump (every other line blank with blank_lines, as in 000-002)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.txt"
        path.write_text(("\n\n" if blank_lines else "\n").join(texts), encoding="utf-8")
        return goldens.flatten(parse_dump(path), path.name)


def papers(results: list[Paper | Problem]) -> list[tuple[str, int]]:
    return [(r.title, r.line) for r in results if isinstance(r, Paper)]


def problems(results: list[Paper | Problem]) -> list[tuple[str, int | None]]:
    return [(r.rule, r.line) for r in results if isinstance(r, Problem)]


def test_blank_line_layout_with_full_header() -> None:
    header = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers"]
    header += ["byAK and the research community", "Mar 12"]
    results = run([*header, "Alpha", abstract("alpha"), "Beta", abstract("beta")], blank_lines=True)
    assert papers(results) == [("Alpha", 13), ("Beta", 17)]
    assert problems(results) == []
    first = results[0]
    assert isinstance(first, Paper) and first.abstract == abstract("alpha") and first.source == "d.txt"


def test_compact_layout_with_subscribe_glued_to_the_first_title() -> None:
    header = ["Get trending papers in your email inbox once a day!"]
    header += ["Get trending papers in your email inbox!"]
    texts = [*header, "SubscribeTop2Vec: Topics", abstract("topics"), "Beta", abstract("beta")]
    assert papers(run(texts)) == [("Top2Vec: Topics", 3), ("Beta", 5)]


def test_missing_extra_and_respelled_headers_are_tolerated() -> None:
    for header in (
        [],
        ["Subscribe"],
        ["new", "by AK and the research community", "Aug 1", "Daily Papers", "new"],
        ["SUBSCRIBE", "Dec. 3, 2024"],
    ):
        assert papers(run([*header, "Alpha", abstract("alpha")])) == [("Alpha", len(header) + 1)]


def test_a_title_that_starts_with_subscribe_is_not_cut() -> None:
    assert papers(run(["Subscriber churn models", abstract("churn")])) == [("Subscriber churn models", 1)]


def test_orphan_title_before_a_short_title_is_reported_and_the_rest_pairs() -> None:
    results = run(["Alpha", "Beta", abstract("beta"), "Gamma", abstract("gamma")])
    assert problems(results) == [("orphan-title", 1)]
    assert papers(results) == [("Beta", 2), ("Gamma", 4)]


def test_orphan_title_before_a_long_title_is_found_by_looking_ahead() -> None:
    long_title = "A title long enough to be taken for a short abstract if read alone"
    assert ABSTRACT_MIN_CHARS <= len(long_title) <= TITLE_MAX_CHARS
    results = run(["Alpha", long_title, abstract("beta")])
    assert problems(results) == [("orphan-title", 1)]
    assert papers(results) == [(long_title, 2)]


def test_a_short_abstract_followed_by_a_title_still_pairs() -> None:
    short = "A short abstract of sixty or so characters, but still fine."
    results = run(["Alpha", short, "Beta", abstract("beta")])
    assert problems(results) == []
    assert papers(results) == [("Alpha", 1), ("Beta", 3)]


def test_a_dump_of_titles_alone_is_refused_line_by_line_not_paired_title_with_title() -> None:
    """Titles of 50-300 characters are as long as a short abstract: without a full stop or a sentence
    in them they are titles, so a copy that lost every abstract is orphan titles, not papers."""
    titles = [
        "Scaling Laws for Sparse Mixture of Experts Language Models at Trillion Scale",
        "A Survey of Retrieval Augmented Generation for Long Context Question Answering",
        "Emergence of Hidden Capabilities in Diffusion Models Trained on Synthetic Data",
        "How Connectivity Structure Shapes Rich and Lazy Learning in Neural Circuits",
    ]
    results = run(titles, blank_lines=True)
    assert papers(results) == []
    assert problems(results) == [("orphan-title", line) for line in (1, 3, 5, 7)]
    first = next(r for r in results if isinstance(r, Problem))
    assert "line 3 looks like the next title (or it starts this title's abstract" in first.message


def test_orphan_title_at_end_of_file() -> None:
    results = run(["Alpha", abstract("alpha"), "Dangling"])
    assert problems(results) == [("orphan-title", 3)]
    assert papers(results) == [("Alpha", 1)]


def test_abstract_without_a_title_is_reported() -> None:
    results = run(["Daily Papers", abstract("nothing") * 3, "Beta", abstract("beta")])
    assert problems(results) == [("orphan-abstract", 2)]
    assert papers(results) == [("Beta", 3)]


def test_a_complete_abstract_followed_by_another_is_broken_abstract_naming_both_readings() -> None:
    results = run(["Alpha", abstract("alpha"), abstract("nothing") * 3, "Beta", abstract("beta")])
    assert problems(results) == [("broken-abstract", 3)]
    assert papers(results) == [("Alpha", 1), ("Beta", 4)]
    [problem] = [r for r in results if isinstance(r, Problem)]
    assert "join the two lines, or, if this is another paper's abstract, add its title" in problem.message


def test_stray_ui_line_mid_file_is_reported_without_shifting_records() -> None:
    texts = ["Alpha", abstract("alpha"), "Subscribe", "Beta", "new", abstract("beta"), "Gamma"]
    texts.append(abstract("gamma"))
    results = run(texts, blank_lines=True)
    assert problems(results) == [("stray-ui-line", 5), ("stray-ui-line", 9)]
    assert papers(results) == [("Alpha", 1), ("Beta", 7), ("Gamma", 13)]
    beta = [r for r in results if isinstance(r, Paper)][1]
    assert beta.abstract == abstract("beta")


def test_header_only_and_empty_input_have_no_papers() -> None:
    for texts in (["new", "Subscribe", "Daily Papers"], ["", "  ", ""]):
        results = run(texts)
        assert problems(results) == [("no-papers", None)]


def test_read_problems_pass_through_and_drop_the_pending_title(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_bytes(b"Alpha\nCaf\xe9\nBeta\n" + abstract("b").encode())
    results = goldens.flatten(parse_dump(path), path.name)
    assert problems(results) == [("not-utf8", 2)]
    assert papers(results) == [("Beta", 3)]


def test_layout_bounds_agree_with_the_schema() -> None:
    checks = paper_schema().pandera.columns
    assert checks["title"].checks[0].statistics["max_value"] == TITLE_MAX_CHARS
    assert checks["abstract"].checks[0].statistics["min_value"] == ABSTRACT_MIN_CHARS


def test_a_too_short_abstract_is_paired_for_the_schema_to_reject() -> None:
    results = run(["Alpha", "Too short.", "Beta", abstract("beta")])
    assert problems(results) == []
    assert papers(results) == [("Alpha", 1), ("Beta", 3)]


COMPACT_HEADER = [
    "Get trending papers in your email inbox once a day!",
    "Get trending papers in your email inbox!",
]


def test_subscribe_glued_to_a_lower_case_title_is_cut_below_the_compact_header() -> None:
    results = run([*COMPACT_HEADER, "SubscribexLSTM: Extended Long Short-Term Memory", abstract("lstm")])
    assert papers(results) == [("xLSTM: Extended Long Short-Term Memory", 3)]


def test_a_title_starting_with_subscribe_is_kept_when_subscribe_stood_alone() -> None:
    header = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers"]
    results = run([*header, "Subscriber churn models", abstract("churn")], blank_lines=True)
    assert papers(results) == [("Subscriber churn models", 9)]


def test_the_site_footer_at_the_end_is_page_ui_not_titles() -> None:
    footer = ["System theme", "Company", "TOS", "Privacy", "About", "Jobs", "Website", "Models"]
    footer += ["Datasets", "Spaces", "Pricing", "Docs"]
    results = run(["Alpha", abstract("alpha"), *footer])
    assert problems(results) == []
    assert papers(results) == [("Alpha", 1)]


def test_footer_words_followed_by_papers_are_titles_as_usual() -> None:
    results = run(["Alpha", abstract("alpha"), "Models", abstract("models"), "Docs"])
    assert papers(results) == [("Alpha", 1), ("Models", 3)]
    assert problems(results) == []


def test_date_labels_in_other_forms_are_header_lines() -> None:
    for date in ("2024-03-12", "Mar 12, 2024", "12 Mar", "March 12 2024", "12 March 2024", "2024/03/12"):
        results = run(["Daily Papers", date, "Alpha", abstract("alpha")])
        assert papers(results) == [("Alpha", 3)], date
        assert problems(results) == [], date


def test_a_ui_like_line_among_the_papers_followed_by_an_abstract_is_a_title() -> None:
    texts = ["new", "Daily Papers", "Alpha", abstract("alpha"), "New", abstract("novelty")]
    texts += ["Subscribe", abstract("subscriptions")]
    results = run(texts)
    assert papers(results) == [("Alpha", 3), ("New", 5), ("Subscribe", 7)]
    assert problems(results) == []


def test_in_the_preamble_ui_lines_stay_page_ui_before_a_too_long_first_title() -> None:
    long_title = ("A Very Long Title " * 20).strip()
    results = run(["Subscribe", long_title, abstract("long"), "Beta", abstract("beta")])
    assert papers(results) == [(long_title, 2), ("Beta", 4)]
    assert problems(results) == []


def test_a_short_abstract_before_a_too_long_title_still_pairs_with_its_own_title() -> None:
    short = "A short abstract of sixty or so characters, but still fine."
    long_title = ("A Very Long Title " * 20).strip()
    results = run(["Alpha", short, long_title, abstract("long"), "Beta", abstract("beta")])
    assert papers(results) == [("Alpha", 1), (long_title, 3), ("Beta", 5)]
    assert problems(results) == []


def test_a_date_label_is_never_a_title() -> None:
    results = run(["Alpha", abstract("alpha"), "Mar 12", abstract("dates"), "Beta", abstract("beta")])
    assert problems(results) == [("stray-ui-line", 3), ("orphan-abstract", 4)]
    assert papers(results) == [("Alpha", 1), ("Beta", 5)]


def test_a_lone_short_abstract_is_never_paired_with_the_next_line() -> None:
    lone = "A lone abstract of about a hundred characters that ends with a full stop."
    results = run(["Alpha", abstract("alpha"), lone, "Beta", abstract("beta")])
    assert problems(results) == [("broken-abstract", 3)]
    assert papers(results) == [("Alpha", 1), ("Beta", 4)]


def test_a_title_over_300_characters_is_one_title_length_problem_at_its_line() -> None:
    long_title = ("A Very Long Title " * 20).strip()
    assert len(long_title) > TITLE_MAX_CHARS
    results = run(["Alpha", abstract("alpha"), long_title, abstract("long"), "Beta", abstract("beta")])
    assert problems(results) == []
    assert papers(results) == [("Alpha", 1), (long_title, 3), ("Beta", 5)]


def test_an_abstract_broken_over_two_lines_is_reported_at_the_break() -> None:
    whole = abstract("breaks")
    first, rest = whole[:200], whole[200:]
    results = run(["Alpha", first, rest, "Beta", abstract("beta")])
    assert problems(results) == [("broken-abstract", 3)]
    assert papers(results) == [("Alpha", 1), ("Beta", 4)]
    problem = next(r for r in results if isinstance(r, Problem))
    assert "line 2" in problem.message


def test_papers_record_the_line_of_their_abstract() -> None:
    results = run(["Alpha", abstract("alpha")], blank_lines=True)
    [paper] = [r for r in results if isinstance(r, Paper)]
    assert (paper.line, paper.abstract_line) == (1, 3)


@pytest.mark.parametrize(("group", "path"), goldens.inputs(), ids=lambda v: getattr(v, "name", v))
def test_every_dump_parses_to_its_golden_papers_and_problems(group: str, path: Path) -> None:
    expected = goldens.load(group, path)
    assert goldens.records(path) == expected
    # Pieces small enough that their boundaries fall inside every construct of the small files.
    assert goldens.records(path, piece_bytes=97 if path.stat().st_size < 20_000 else 4099) == expected


LONG_ABSTRACT = abstract("breaks") + " " + abstract("more breaks")


@pytest.mark.parametrize("cut", [10, 60, 150, 200, 280, 400])
def test_an_abstract_broken_mid_sentence_is_broken_abstract_whatever_the_length_before_the_break(
    cut: int,
) -> None:
    cut = LONG_ABSTRACT.index(" ", cut)  # between two words, inside a sentence
    first, rest = LONG_ABSTRACT[:cut], LONG_ABSTRACT[cut + 1 :]
    assert not first.endswith(".")
    results = run(["Alpha", first, rest, "Beta", abstract("beta")])
    assert papers(results) == [("Alpha", 1), ("Beta", 4)]
    assert problems(results) == [("broken-abstract", 3)]
    [problem] = [r for r in results if isinstance(r, Problem)]
    assert problem.message == "the abstract on line 2 seems to continue here; join the two lines"


def test_an_abstract_broken_at_a_sentence_end_is_broken_abstract_naming_both_readings() -> None:
    cut = LONG_ABSTRACT.index(". ", 140) + 1
    first, rest = LONG_ABSTRACT[:cut], LONG_ABSTRACT[cut + 1 :]
    assert ABSTRACT_MIN_CHARS < len(first) < TITLE_MAX_CHARS < len(rest)
    results = run(["Alpha", first, rest, "Beta", abstract("beta")])
    assert papers(results) == [("Alpha", 1), ("Beta", 4)]
    assert problems(results) == [("broken-abstract", 3)]
    [problem] = [r for r in results if isinstance(r, Problem)]
    assert "may continue here: join the two lines, or," in problem.message


def test_a_title_without_abstract_before_a_long_title_with_a_short_abstract_is_an_orphan() -> None:
    long_title = "A Title Long Enough To Be Taken For A Short Abstract If Read Alone"
    short = "A short abstract of a little over a hundred characters, which ends as sentences end."
    assert len(long_title) >= ABSTRACT_MIN_CHARS and len(short) < TITLE_MAX_CHARS
    results = run(["Alpha", long_title, short, "Gamma", abstract("gamma")])
    assert problems(results) == [("orphan-title", 1)]
    assert papers(results) == [(long_title, 2), ("Gamma", 4)]
    [problem] = [r for r in results if isinstance(r, Problem)]
    assert "(or it starts this title's abstract: join lines 2 and 3)" in problem.message


def test_a_short_title_is_surely_the_next_title_and_the_message_says_one_reading() -> None:
    results = run(["Alpha", "Beta", abstract("beta")])
    [problem] = [r for r in results if isinstance(r, Problem)]
    assert problem.message == "title has no abstract: line 2 looks like the next title"


# --- The classifier, the state machine and its fast path, over every combination ---------------------

STATES = [State(*bits) for bits in itertools.product((False, True), repeat=4)]
LINE_CODES = [code for code in Code if code is not Code.END]


def reachable_states() -> set[State]:
    """Every state `step` can reach from START, over every code and next code."""
    seen = {START}
    todo = [START]
    while todo:
        state = todo.pop()
        for code, following in itertools.product(LINE_CODES, Code):
            new, _ = step(state, code, following)
            if new not in seen:
                seen.add(new)
                todo.append(new)
    return seen


def test_plain_pairs_are_paired_by_step_from_every_pairing_state_whatever_follows() -> None:
    for state, (title, abstract_code) in itertools.product(PAIRING, PLAIN_PAIRS):
        waiting, emit = step(state, title, abstract_code)
        assert emit is Emit.TITLE, (state, title, abstract_code)
        for following in Code:
            after, emit = step(waiting, abstract_code, following)
            assert emit is Emit.PAPER and after in PAIRING, (state, title, abstract_code, following)


def test_no_other_pair_of_codes_could_be_taken_as_a_plain_pair() -> None:
    # The fast path is as wide as `step` allows: every other pair is paired otherwise somewhere.
    for title, abstract_code in itertools.product(LINE_CODES, LINE_CODES):
        if (title, abstract_code) in PLAIN_PAIRS:
            continue
        outcomes = set()
        for state, following in itertools.product(PAIRING, Code):
            waiting, first = step(state, title, abstract_code)
            after, second = step(waiting, abstract_code, following)
            outcomes.add((first, second, after in PAIRING))
        assert outcomes != {(Emit.TITLE, Emit.PAPER, True)}, (title, abstract_code)


def test_pairing_states_are_reached_and_the_reachable_states_keep_their_invariants() -> None:
    reachable = reachable_states()
    assert reachable >= PAIRING
    for state in reachable:
        assert not (state.preamble and (state.title or state.after_abstract)), state
        assert not (state.title and (state.after_abstract or state.skip)), state
    for state, code, following in itertools.product(reachable, LINE_CODES, Code):
        new, emit = step(state, code, following)
        waits = emit in (Emit.TITLE, Emit.ORPHAN_TITLE) or (emit is Emit.STRAY and state.title)
        assert new.title == waits, (state, code, following)
        assert (emit in (Emit.PAPER, Emit.ORPHAN_TITLE)) <= state.title, (state, code, following)
        assert (emit is Emit.BROKEN) <= state.after_abstract, (state, code, following)
        assert (emit is Emit.SKIP) <= (state.preamble or state.skip), (state, code, following)


def test_the_pairing_of_every_pair_of_codes_after_a_paper() -> None:
    # What the rules say, spelled out for the codes between papers: the table a reader can check.
    after_paper = State(False, False, True, False)
    table = {
        (code, following): step(after_paper, code, following)[1]
        for code, following in itertools.product(LINE_CODES, Code)
    }
    assert table[Code.UI, Code.LONG] is Emit.TITLE and table[Code.UI, Code.TITLE] is Emit.STRAY
    assert all(table[Code.DATE, following] is Emit.STRAY for following in Code)
    assert table[Code.LONG, Code.TITLE] is Emit.BROKEN and table[Code.DOT, Code.END] is Emit.BROKEN
    assert table[Code.LONG, Code.LONG] is Emit.TITLE  # a title over 300 characters
    waiting = State(False, True, False, False)
    assert step(waiting, Code.MID, Code.DOT)[1] is Emit.ORPHAN_TITLE
    assert step(waiting, Code.PROSE, Code.LONG)[1] is Emit.PAPER
    # A title-sized line with no full stop and no sentence in it reads as the next title, whatever
    # follows: a dump of titles alone is refused, not read as papers whose abstracts are titles.
    assert step(waiting, Code.MID, Code.TITLE)[1] is Emit.ORPHAN_TITLE
    assert step(waiting, Code.MID, Code.END)[1] is Emit.ORPHAN_TITLE
    assert step(waiting, Code.TITLE, Code.REST)[1] is Emit.PAPER  # a short first part, its rest next


SPACED_TITLE = "Transformers vs. RNNs: A Study Of Sequence Models For Long Documents"
RUNNING_TEXT = "We study it in depth. Our method improves on strong baselines across several benchmarks"
CLASSIFIED = [
    *("new", "NEW", "Subscribe", "sub scribe", "Daily  Papers", "byAK and the research community"),
    *("Get trending papers in your email inbox once a day!", "TOS", "System theme", "models"),
    *("Mar 12", "Mar 12, 2024", "12 Mar.", "March 12 2024", "2024-03-12", "2024/03/12", "2024-03/12"),
    *("Dec. 3, 2024", "Mar 1234", "x" * 49, "x" * 50, "x" * 300, "x" * 301, "X" * 301, "y" * 48 + "."),
    *("A title?", "\u00e9" * 30 + ".", "Short."),
    *(SPACED_TITLE, RUNNING_TEXT),
    "Subscribe " + "s" * 75,
    *("\u017fubscribe", "Caf\u00e9 Papers", "Mar \uff11\uff12", "\u00e9" * 49, "\u00e9" * 50, "\u00e9" * 301),
    *("Na\u00efve. Approaches to things, and a long enough title to be middle sized",),
]


def test_the_arrow_classifier_gives_every_line_the_code_of_the_python_rules() -> None:
    assert len(CLASSIFIED) > FEW_LINES  # more than a few lines: classify's Arrow path, not code_of's
    assert classify(pa.array(CLASSIFIED, pa.string())).tolist() == [code_of(text) for text in CLASSIFIED]
    codes = {text: code_of(text) for text in CLASSIFIED}
    assert codes["sub scribe"] is Code.UI and codes["\u017fubscribe"] is Code.UI
    assert codes["Mar \uff11\uff12"] is Code.DATE and codes["2024-03/12"] is Code.TITLE
    assert codes["x" * 300] is Code.MID and codes["X" * 301] is Code.LONG and codes["x" * 49] is Code.TITLE
    assert codes["x" * 301] is Code.REST and codes["y" * 48 + "."] is Code.REST
    assert codes["models"] is Code.FOOTER and codes["Subscribe " + "s" * 75] is Code.MID
    assert codes[SPACED_TITLE] is Code.MID and codes[RUNNING_TEXT] is Code.PROSE


@pytest.mark.parametrize(
    ("label", "date"),
    [
        ("Mar 12, 2024", datetime.date(2024, 3, 12)),
        ("2024-03-12", datetime.date(2024, 3, 12)),
        ("2024/03/12", datetime.date(2024, 3, 12)),
        ("12 March 2024", datetime.date(2024, 3, 12)),
        ("March 12 2024", datetime.date(2024, 3, 12)),
        ("Dec. 3, 2024", datetime.date(2024, 12, 3)),
        ("Mar 12", None),
        ("12 Mar", None),
        ("Feb 30, 2024", None),
        ("2024-13-01", None),
        ("Daily Papers", None),
    ],
)
def test_page_date_is_the_labels_date_only_when_it_carries_a_year(
    label: str, date: datetime.date | None
) -> None:
    assert page_date(label) == date


def test_the_preambles_date_labels_are_given_to_on_label_and_no_others(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    texts = ["new", "Mar 12, 2024", "Daily Papers", "2024-03-12", "Alpha", abstract("a"), "Mar 13, 2024"]
    path.write_text("\n\n".join([*texts, "Beta", abstract("b")]), encoding="utf-8")
    labels: list[str] = []
    results = goldens.flatten(parse_dump(path, on_label=labels.append), path.name)
    assert labels == ["Mar 12, 2024", "2024-03-12"]
    assert problems(results) == [("stray-ui-line", 13)]


def test_a_clean_dump_is_paired_in_runs_of_arrays_but_at_piece_boundaries() -> None:
    path = goldens.GROUPS["inputs"] / "000_synthetic.txt"
    chunks = list(parse_dump(path, piece_bytes=50_000))
    stepped = [item for chunk in chunks if isinstance(chunk, list) for item in chunk]
    assert all(isinstance(item, Paper) for item in stepped)
    # The first paper (after the preamble) and at most one per piece boundary go through `step`.
    assert len(stepped) <= 1 + -(-path.stat().st_size // 50_000)
    assert sum(len(chunk) for chunk in chunks if isinstance(chunk, Papers)) + len(stepped) == 150


_WORDS = "model learning neural network training data language vision transformer attention reasoning".split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(8, 22))).capitalize() + "."


@pytest.mark.parametrize(
    "defect", ["missing-abstract", "missing-title", "break-mid-sentence", "break-at-stop"]
)
def test_dumps_with_one_defect_are_read_as_that_defect_and_nothing_else(tmp_path: Path, defect: str) -> None:
    # Titles of 2 to 16 words; abstracts of 1 or 2 sentences (a quarter of them, under 300 characters)
    # or of 3 to 9. Every other paper must come out exactly, and the one problem be the defect's.
    rng = random.Random(defect)
    expected_rules = {
        "missing-abstract": {"orphan-title"},
        "missing-title": {"orphan-abstract", "broken-abstract"},
        "break-mid-sentence": {"broken-abstract"},
        "break-at-stop": {"broken-abstract"},
    }[defect]
    for n in range(25):
        pairs = []
        for i in range(8):
            sentences = rng.choice([1, 2]) if rng.random() < 0.25 else rng.randint(3, 9)
            title = " ".join(rng.choices(_WORDS, k=rng.randint(2, 16))).title() + f" {i}"
            pairs.append((title, " ".join(_sentence(rng) for _ in range(sentences))))
        lines = [line for pair in pairs for line in pair]
        j = rng.randrange(8)
        title, text = pairs.pop(j)
        if defect == "missing-abstract":
            del lines[2 * j + 1]
        elif defect == "missing-title":
            del lines[2 * j]
        else:
            stop = defect == "break-at-stop"
            cuts = [i for i, c in enumerate(text) if c == " " and (text[i - 1] == ".") == stop]
            if not cuts:
                continue
            cut = rng.choice(cuts)
            lines[2 * j + 1 : 2 * j + 2] = [text[:cut], text[cut + 1 :]]
            pairs.insert(j, (title, text[:cut]))
        path = tmp_path / f"{n}.txt"
        path.write_text("\n".join(lines), encoding="utf-8")
        results = goldens.flatten(parse_dump(path), path.name)
        assert [(r.title, r.abstract) for r in results if isinstance(r, Paper)] == pairs, path.read_text()
        assert [r.rule for r in results if isinstance(r, Problem)] in [[rule] for rule in expected_rules]

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pytest
from neardup_corpus import generate

from dataset_builder import dedup, neardup
from dataset_builder.keys import abstract_hashes, key_hashes, title_key, title_keys

ABSTRACT = (
    "In this paper, we propose SparseMoE, a novel mixture of experts for long-context modeling. "
    "However, existing methods suffer from quadratic attention cost and fail to generalize to long inputs. "
    "To address this issue, we design a router that explicitly models token importance. "
    "Extensive experiments on five benchmarks show that our method outperforms state-of-the-art baselines."
)
REVISED = ABSTRACT.replace("five benchmarks", "six benchmarks") + " Code and models are publicly available."
OTHER = (
    "In this paper, we propose VidGen, a diffusion model for video generation from text prompts. "
    "Unlike prior work, our approach does not require paired video data or a pretrained image model. "
    "We train a latent denoiser with a temporal attention objective on web-scale clips. "
    "Experimental results demonstrate that VidGen achieves state-of-the-art performance on UCF-101."
)


def pairs(titles: list[str], abstracts: list[str]) -> list[tuple[int, int]]:
    return [(p.earlier, p.later) for p in neardup.find_pairs(neardup.signatures(abstracts), titles).pairs]


def test_revised_title_and_abstract_are_a_pair_with_their_scores() -> None:
    titles = [
        "Sparse Mixture-of-Experts for Long Context",
        "Unrelated",
        "Sparse Mixture of Experts for Long Contexts",
    ]
    found, skipped = neardup.find_pairs(neardup.signatures([ABSTRACT, OTHER, REVISED]), titles)
    assert skipped == 0
    assert [(p.earlier, p.later) for p in found] == [(0, 2)]
    assert found[0].title_similarity >= neardup.TITLE_THRESHOLD
    assert found[0].abstract_similarity >= neardup.ABSTRACT_THRESHOLD


def test_lookalike_titles_with_unrelated_abstracts_are_not_pairs() -> None:
    assert (
        pairs(["Scaling Transformers for Vision", "Scaling Transformers for Language"], [ABSTRACT, OTHER])
        == []
    )
    assert pairs(["Qwen2 Technical Report", "Qwen2.5 Technical Report"], [ABSTRACT, OTHER]) == []


def test_same_abstract_under_a_different_title_is_not_a_pair() -> None:
    assert (
        pairs(["SparseMoE for Long Context", "Video Diffusion Without Paired Data"], [ABSTRACT, ABSTRACT])
        == []
    )


def test_equal_normalized_titles_are_left_to_exact_dedup() -> None:
    assert pairs(["Sparse MoE", "sparse  MOE"], [ABSTRACT, REVISED]) == []


def test_pairs_are_sorted_by_later_then_earlier() -> None:
    titles = ["Sparse MoE: Long Context", "Other", "Sparse MoE - Long Context", "Sparse MoE, Long Context"]
    assert pairs(titles, [ABSTRACT, OTHER, ABSTRACT, REVISED]) == [(0, 2), (0, 3), (2, 3)]


def test_signatures_of_separate_batches_stacked_give_the_same_pairs() -> None:
    corpus = generate(papers=300, revisions=40, lookalikes=20, extended=10)
    whole = neardup.signatures(corpus.abstracts)
    stacked = np.concatenate([neardup.signatures(corpus.abstracts[i : i + 97]) for i in range(0, 370, 97)])
    assert np.array_equal(whole, stacked)
    assert neardup.find_pairs(stacked, corpus.titles) == neardup.find_pairs(whole, corpus.titles)


def test_signing_in_slices_of_text_changes_no_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices end where the text reaches the budget: several abstracts, one, or one longer than it."""
    abstracts = [*generate(40, revisions=5, lookalikes=5, extended=5).abstracts, "tiny", "", ABSTRACT * 3]
    one_by_one = np.concatenate([neardup.signatures([text]) for text in abstracts])
    for budget in (1, 400, 5_000):
        monkeypatch.setattr(neardup, "_SLICE_BYTES", budget)
        assert np.array_equal(neardup.signatures(abstracts), one_by_one), budget


def test_signatures_are_deterministic_and_accept_arrow_input() -> None:
    first = neardup.signatures([ABSTRACT, OTHER])
    assert first.dtype == np.uint32 and first.shape == (2, neardup.SIGNATURE_SIZE)
    assert np.array_equal(first, neardup.signatures([ABSTRACT, OTHER]))
    assert np.array_equal(first, neardup.signatures(pa.array([ABSTRACT, OTHER])))
    assert np.array_equal(first, neardup.signatures(pa.chunked_array([[ABSTRACT], [OTHER]])))


def test_titles_may_be_an_arrow_array() -> None:
    titles = ["Sparse Mixture-of-Experts", "Sparse Mixture of Experts"]
    sigs = neardup.signatures([ABSTRACT, REVISED])
    assert neardup.find_pairs(sigs, pa.array(titles)) == neardup.find_pairs(sigs, titles)


def test_titles_made_batch_by_batch_find_the_same_pairs() -> None:
    """The build makes each batch's title forms and hashes in its first pass (`Titles`)."""
    corpus = generate()
    sigs, titles = neardup.signatures(corpus.abstracts), pa.array(corpus.titles)
    found = neardup.find_pairs(sigs, titles)
    batches = [titles.slice(start, 170) for start in range(0, len(titles), 170)]
    forms = pa.chunked_array([neardup.title_forms(title_keys(batch)) for batch in batches])
    ids = np.concatenate([key_hashes(title_keys(batch)) for batch in batches])
    made = neardup.Titles(forms.combine_chunks(), ids)
    assert made.forms.equals(neardup.Titles.of(titles).forms)
    assert found.pairs and neardup.find_pairs(sigs, made) == found


def test_empty_input_and_tiny_abstracts_do_not_crash() -> None:
    assert neardup.signatures([]).shape == (0, neardup.SIGNATURE_SIZE)
    assert neardup.find_pairs(neardup.signatures([]), []) == ([], 0)
    tiny = neardup.signatures(["Transformers", "Transformers", "two words", ""])
    assert np.array_equal(tiny[0], tiny[1]) and not np.array_equal(tiny[0], tiny[2])
    assert neardup.find_pairs(tiny, ["Alpha", "Omega", "Beta", "Gamma"]).pairs == []
    assert pairs(["Transformers Rock", "Transformers Rock!"], ["Transformers", "Transformers"]) == [(0, 1)]


def test_planted_revisions_found_and_hard_negatives_not_reported() -> None:
    corpus = generate(papers=600, revisions=120, lookalikes=80, extended=40, seed=1)
    found = {
        (p.earlier, p.later)
        for p in neardup.find_pairs(neardup.signatures(corpus.abstracts), corpus.titles).pairs
    }
    revisions = corpus.pairs("revision")
    assert len(found & revisions) >= 0.95 * len(revisions)
    assert not found & (corpus.pairs("lookalike") | corpus.pairs("extended"))
    assert found <= revisions


def test_oversized_buckets_compare_each_paper_with_its_next_neighbours_only() -> None:
    sigs = neardup.signatures([ABSTRACT] * (neardup.NEIGHBOURS + 5))
    candidates, skipped = neardup.candidates(sigs)
    assert len(candidates) == sum(min(neardup.NEIGHBOURS, len(sigs) - 1 - i) for i in range(len(sigs)))
    assert ((candidates[:, 1] - candidates[:, 0]) <= neardup.NEIGHBOURS).all()
    assert skipped > 0


def template(number: int) -> str:
    return (
        f"We evaluate model {number % 7} on dataset {number % 5} under a fixed training budget of "
        f"{number % 13} GPU hours. The gain holds across {number % 3} random seeds. Code is available."
    )


def test_templated_abstracts_cost_at_most_the_caps_and_the_skipped_pairs_are_counted() -> None:
    count = 600
    sigs = neardup.signatures([template(i) for i in range(count)])
    candidates, skipped = neardup.candidates(sigs)
    # Every paper is the earlier of at most CANDIDATES pairs, however many share its band keys.
    assert np.bincount(candidates[:, 0], minlength=count).max() <= neardup.CANDIDATES
    band_pairs = sum(len(b) * (len(b) - 1) // 2 for b in band_buckets(sigs))
    assert band_pairs > 10 * count * neardup.CANDIDATES  # the caps had work to do ...
    assert len(candidates) <= count * neardup.CANDIDATES
    assert 0 < skipped < band_pairs  # ... and say how much they left out
    titles = [f"Study {i}: model {i % 7} on dataset {i % 5}" for i in range(count)]
    assert neardup.find_pairs(sigs, titles).skipped == skipped


def test_a_pool_finds_the_same_pairs_with_the_same_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the build's threads, the next band is sorted and the next chunk scored while the current
    one is used: nothing may change, over many chunks (small ones here) and capped buckets."""
    corpus = generate(papers=600, revisions=120, lookalikes=80, extended=40, seed=2)
    abstracts = corpus.abstracts + [template(i) for i in range(400)]
    titles = corpus.titles + [f"Study {i}: model {i % 7} on dataset {i % 5}" for i in range(400)]
    sigs = neardup.signatures(abstracts)
    monkeypatch.setattr(neardup, "_CHUNK", 97)
    alone = neardup.find_pairs(sigs, titles)
    with ThreadPoolExecutor(2) as pool:
        shared = neardup.find_pairs(sigs, titles, pool=pool)
        assert np.array_equal(neardup.candidates(sigs, pool).pairs, neardup.candidates(sigs).pairs)
    assert shared == alone and len(alone.pairs) >= 100 and alone.skipped > 0


def test_the_caps_keep_exactly_the_pairs_a_plain_loop_keeps() -> None:
    """Bands in order; in each, every row with the next rows of its key, nearer first, at most
    NEIGHBOURS, while the row is the earlier of fewer than CANDIDATES pairs; the rest counted."""
    abstracts = [template(i) for i in range(500)] + generate(papers=300, revisions=60, seed=3).abstracts
    sigs = neardup.signatures(abstracts)
    taken, expected, skipped = [0] * len(sigs), set(), 0
    for rows in band_buckets(sigs):
        skipped += len(rows) * (len(rows) - 1) // 2
        for i, row in enumerate(rows):
            for later in rows[i + 1 : i + 1 + neardup.NEIGHBOURS]:
                if taken[row] == neardup.CANDIDATES:
                    break
                expected.add((row, later))
                taken[row] += 1
                skipped -= 1
    found = neardup.candidates(sigs)
    assert sorted(map(tuple, found.pairs.tolist())) == sorted(expected)
    assert found.skipped == skipped > 0 and max(taken) == neardup.CANDIDATES


def band_buckets(sigs: np.ndarray) -> list[list[int]]:
    """Rows sharing each band key, by plain Python grouping: the reference for `candidates`."""
    buckets: list[list[int]] = []
    for band in range(neardup.BANDS):
        groups: dict[bytes, list[int]] = {}
        for row in range(len(sigs)):
            key = sigs[row, band * neardup.ROWS : (band + 1) * neardup.ROWS].tobytes()
            groups.setdefault(key, []).append(row)
        buckets.extend(rows for rows in groups.values() if len(rows) > 1)
    return buckets


def test_with_nothing_skipped_the_pairs_are_every_close_pair_sharing_a_band_key() -> None:
    corpus = generate(papers=300, revisions=60, lookalikes=30, extended=20, seed=0)
    sigs = neardup.signatures(corpus.abstracts)
    found, skipped = neardup.find_pairs(sigs, corpus.titles)
    assert skipped == 0
    expected = []
    shared = {(a, b) for rows in band_buckets(sigs) for i, a in enumerate(rows) for b in rows[i + 1 :]}
    for earlier, later in sorted(shared, key=lambda pair: (pair[1], pair[0])):
        first, second = title_key(corpus.titles[earlier]), title_key(corpus.titles[later])
        abstract = float(neardup.abstract_similarity(sigs[[earlier]], sigs[[later]])[0])
        title = neardup.title_similarity(first, second)
        if first != second and abstract >= neardup.ABSTRACT_THRESHOLD and title >= neardup.TITLE_THRESHOLD:
            expected.append(neardup.Pair(earlier, later, title, abstract))
    assert found == expected and len(expected) >= 55


def test_the_plan_carries_the_skipped_count() -> None:
    count = 300
    abstracts = [template(i) for i in range(count)]
    titles = [f"Study {i}: model {i % 7} on dataset {i % 5}" for i in range(count)]
    keys = dedup.FileKeys("a.txt", "a.txt")
    keys.add(key_hashes(title_keys(pa.array(titles))), abstract_hashes(abstracts), np.arange(1, count + 1))
    keys.add_titles(pa.array(titles))
    keys.add_near(neardup.signatures(abstracts), neardup.Titles.of(titles).forms)
    plan = dedup.plan([keys], near_duplicates="warn")
    assert plan.near_skipped == neardup.find_pairs(neardup.signatures(abstracts), titles).skipped > 0


def test_densify_fills_each_empty_bin_from_the_next_filled_one_by_its_distance() -> None:
    """The column walk equals the definition, bin by bin: an empty bin takes the value of the next
    filled bin to its right (round to the first), plus its distance times the rotation step."""
    rng = np.random.default_rng(3)
    k = neardup.SIGNATURE_SIZE
    table = rng.integers(0, 2**32 - 1, (400, k), dtype=np.uint32)
    for row, empty in enumerate(rng.integers(0, k, len(table))):  # 0 to K - 1 empty bins a row
        table[row, rng.choice(k, empty, replace=False)] = neardup.EMPTY
    table[0, 1:] = neardup.EMPTY  # one filled bin, the first
    table[1, :-1] = neardup.EMPTY  # one filled bin, the last
    expected = table.copy()
    for row, values in enumerate(table):
        for column in np.flatnonzero(values == neardup.EMPTY):
            distance = next(d for d in range(1, k) if values[(column + d) % k] != neardup.EMPTY)
            source = int(values[(column + distance) % k])
            expected[row, column] = (source + distance * int(neardup._ROTATION)) % 2**32
    assert np.array_equal(neardup._densify(table.copy()), expected)


def test_distinct_values_match_numpy_unique_across_part_boundaries() -> None:
    """Repeats are dropped in place, part by part: a run crossing a part boundary stays one value."""
    rng = np.random.default_rng(0)
    for size in (0, 1, 99_999, 100_000, 100_001, 250_000):
        for high in (2, 50, 10**12):
            values = rng.integers(0, high, size)
            assert np.array_equal(neardup._drop_repeats(np.sort(values)), np.unique(values)), (size, high)


def test_title_forms_in_bulk_equal_the_per_title_form_for_every_ascii_character() -> None:
    """The bulk path (a regex made from the separator table) and `_title_form` (the same table as a
    byte translation) agree: each ASCII character alone, inside a word, in runs and at the ends, and
    in titles that are not ASCII or not plain (case, width, white space)."""
    titles = []
    for code in range(128):
        c = chr(code)
        titles += [c, f"a{c}b", f"{c}{c}x{c}{c}", f"Word{c} {c}Next", f"caf\u00e9{c}b"]
    titles += ["Deep  Learning:  A-Study", "\uff24eep\u00a0LEARNING\u2014for \uff38", "tab\there", ""]
    titles += ["Stra\u00dfe \u2013 Weg", "\u0130stanbul_2024", "\ufb01 ligature", "  ", "x\u200by"]
    rng = random.Random(7)  # runs of separators mixed with single spaces, as the regex tells them apart
    titles += ["".join(rng.choices("ab  -:_.\t", k=rng.randint(1, 12))) for _ in range(2000)]
    expected = [neardup._title_form(title_key(title)) for title in titles]
    assert neardup.title_forms(title_keys(pa.array(titles))).to_pylist() == expected
    assert neardup.Titles.of(pa.chunked_array([titles[:300], titles[300:]])).forms.to_pylist() == expected

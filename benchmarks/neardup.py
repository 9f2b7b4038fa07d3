"""Measure near-duplicate detection: precision and recall on the labelled corpus, and cost at scale.

python benchmarks/neardup.py                 # corpus table, real dumps, 200k timing
python benchmarks/neardup.py --sizes 200000 1000000
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from neardup_corpus import generate  # noqa: E402

from dataset_builder import keys, neardup  # noqa: E402
from dataset_builder.parse import Papers, parse_dump  # noqa: E402
from dataset_builder.records import Paper, Problem  # noqa: E402


def quality() -> None:
    corpus = generate()
    sigs = neardup.signatures(corpus.abstracts)
    truth = corpus.pairs("revision")
    print(
        f"corpus: {len(corpus.titles)} papers, {len(truth)} planted revisions, "
        f"{len(corpus.pairs('lookalike'))} look-alikes, {len(corpus.pairs('extended'))} extended versions"
    )
    print(f"candidate pairs the caps skipped: {neardup.find_pairs(sigs, corpus.titles).skipped:,}")
    print("| title >= | abstract >= | reported | precision | recall | look-alikes | extended |")
    print("|---|---|---|---|---|---|---|")
    for title_t in (0.7, 0.8, 0.85, 0.9):
        for abstract_t in (0.3, 0.4, 0.5, 0.6, 0.7):
            scored = neardup.scored_pairs(sigs, corpus.titles, title_t, abstract_t)
            found = {(p.earlier, p.later) for p in scored.pairs}
            hits = len(found & truth)
            precision = hits / len(found) if found else 1.0
            kinds = [corpus.kinds.get(pair, "other") for pair in found]
            print(
                f"| {title_t} | {abstract_t} | {len(found)} | {precision:.3f} | {hits / len(truth):.3f} | "
                f"{kinds.count('lookalike')} | {kinds.count('extended')} |"
            )
    # Scores of each kind, whether reported or not
    for kind in ("revision", "lookalike", "extended"):
        pairs = np.array(sorted(corpus.pairs(kind)))
        a = neardup.abstract_similarity(sigs[pairs[:, 0]], sigs[pairs[:, 1]])
        t = [
            neardup.title_similarity(keys.title_key(corpus.titles[i]), keys.title_key(corpus.titles[j]))
            for i, j in pairs.tolist()
        ]
        print(
            f"{kind}: abstract min/median/max {a.min():.2f}/{np.median(a):.2f}/{a.max():.2f}, "
            f"title min/median/max {min(t):.2f}/{np.median(t):.2f}/{max(t):.2f}"
        )
    found = {(p.earlier, p.later) for p in neardup.find_pairs(sigs, corpus.titles).pairs}
    for i, j in sorted(truth - found):
        print("missed at the chosen thresholds:", corpus.titles[i], "|", corpus.titles[j])


def _papers(chunk: Papers | list[Paper | Problem], source: str) -> list[Paper]:
    if isinstance(chunk, Papers):
        return chunk.to_list(source)
    return [item for item in chunk if isinstance(item, Paper)]


def real_dumps() -> None:
    seen: dict[str, int] = {}
    titles: list[str] = []
    abstracts: list[str] = []
    for path in sorted((ROOT / "dumps").glob("*.txt")):
        for item in (p for chunk in parse_dump(path) for p in _papers(chunk, path.name)):
            if keys.title_key(item.title) not in seen:
                seen[keys.title_key(item.title)] = len(titles)
                titles.append(item.title)
                abstracts.append(item.abstract)
    sigs = neardup.signatures(abstracts)
    print(f"real dumps: {len(titles)} distinct papers, {len(neardup.candidates(sigs).pairs)} candidates")
    reported = neardup.find_pairs(sigs, titles).pairs
    print("reported:", [(p, titles[p.earlier], titles[p.later]) for p in reported])
    # All pairs (fine at this size): the most similar abstracts, candidates or not.
    first, second = np.triu_indices(len(titles), k=1)
    scores = neardup.abstract_similarity(sigs[first], sigs[second])
    candidates = {tuple(pair) for pair in neardup.candidates(sigs).pairs.tolist()}
    for k in np.argsort(-scores, kind="stable")[:5].tolist():
        i, j = int(first[k]), int(second[k])
        t = neardup.title_similarity(keys.title_key(titles[i]), keys.title_key(titles[j]))
        print(
            f"  abstract {scores[k]:.2f} title {t:.2f} candidate {(i, j) in candidates}: "
            f"{titles[i]!r} / {titles[j]!r}"
        )


def cost(size: int) -> None:
    rng = random.Random(0)
    corpus = generate(papers=2000, revisions=0, lookalikes=0, extended=0)
    # Realistic lengths and vocabulary, few shared sentences: words of the corpus abstracts, drawn anew.
    vocab = " ".join(corpus.abstracts).split()
    abstracts = [" ".join(rng.choices(vocab, k=rng.randint(120, 260))) for _ in range(size)]
    titles = [f"paper {i}" for i in range(size)]
    start, cpu = time.perf_counter(), time.process_time()
    sigs = np.concatenate([neardup.signatures(abstracts[i : i + 5000]) for i in range(0, size, 5000)])
    signed, signed_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    found = neardup.find_pairs(sigs, titles)
    paired, paired_cpu = time.perf_counter() - start, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # numpy reports its buffers to tracemalloc: the working memory of each step, beyond its input.
    tracemalloc.start()
    neardup.signatures(abstracts[:5000])
    batch_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.reset_peak()
    neardup.find_pairs(sigs, titles)
    pairs_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(
        f"{size}: signatures {signed:.2f} s ({signed_cpu:.2f} s CPU, {sigs.nbytes / 1e6:.0f} MB), "
        f"find_pairs {paired:.2f} s ({paired_cpu:.2f} s CPU), "
        f"{len(neardup.candidates(sigs).pairs)} candidates ({found.skipped} skipped by the caps), "
        f"{len(found.pairs)} pairs, peak RSS {rss:.0f} MB "
        f"(with the generated text), working memory: signatures of 5,000 {batch_peak:.0f} MB, "
        f"find_pairs {pairs_peak:.0f} MB, "
        f"{sum(map(len, abstracts)) / size:.0f} chars an abstract"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[200_000])
    args = parser.parse_args()
    quality()
    real_dumps()
    for size in args.sizes:
        cost(size)

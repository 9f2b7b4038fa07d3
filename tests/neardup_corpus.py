"""A labelled corpus for near-duplicate detection: ML-style papers, planted revisions and hard negatives.

Abstracts are built from the stock phrases of ML abstracts ("In this paper, we propose", "state-of-the-art",
"extensive experiments") around drawn content words, so unrelated abstracts share common shingles as real
ones do. Kinds of pair (`Corpus.kinds`):

- `revision` (positive): a title typo fixed, hyphen vs space, a dropped word or changed punctuation;
  the abstract identical, a few words changed, or a sentence added or dropped.
- `lookalike` (negative): the same title but its last word swapped ("... for Vision" / "... for
  Language"), or a version number bumped ("Qwen2" / "Qwen2.5 Technical Report"), and an unrelated abstract
  written from the same stock phrases.
- `extended` (negative, related but distinct): a journal version with a new title whose abstract keeps
  about half the sentences of the original.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from dataset_builder.keys import title_key

OPENINGS = [
    "In this paper, we propose {a}, a novel {b} for {c}.",
    "We introduce {a}, a simple yet effective {b} for {c}.",
    "Recent advances in {c} have been driven by {b} models.",
    "Large language models have shown remarkable capabilities in {c}.",
    "We present {a}, which leverages {b} to improve {c}.",
]
MIDDLES = [
    "However, existing methods suffer from {a} and fail to generalize to {b}.",
    "To address this issue, we design a {a} that explicitly models {b}.",
    "Our key insight is that {a} can be decomposed into {b} and {c}.",
    "Specifically, we train a {a} on {b} with a {c} objective.",
    "We further introduce a {a} module that reduces the cost of {b}.",
    "Unlike prior work, our approach does not require {a} or {b}.",
    "We analyze the role of {a} in {b} both theoretically and empirically.",
    "The resulting model scales to {a} while keeping {b} tractable.",
]
CLOSINGS = [
    "Extensive experiments on {a} benchmarks show that our method outperforms state-of-the-art baselines.",
    "Experimental results demonstrate that {a} achieves state-of-the-art performance on {b}.",
    "Code and models are publicly available.",
    "We release our code, data and models to facilitate future research on {a}.",
    "Our results suggest that {a} is a promising direction for {b}.",
]
CONTENT = (
    "sparse attention|diffusion models|reinforcement learning|contrastive pretraining|mixture of experts|"
    "retrieval augmentation|chain-of-thought reasoning|long-context modeling|video generation|"
    "speech recognition|image segmentation|code generation|tool use|instruction tuning|preference "
    "optimization|reward modeling|knowledge distillation|quantization|low-rank adaptation|graph neural "
    "networks|3D reconstruction|neural radiance fields|multimodal alignment|visual question answering|"
    "embodied agents|robot manipulation|protein folding|weather forecasting|tabular data|time series|"
    "federated learning|differential privacy|adversarial robustness|uncertainty estimation|test-time "
    "scaling|speculative decoding|state space models|tokenization|data curation|synthetic data|"
    "hallucination|machine translation|text-to-image synthesis|optical flow|point clouds|world models|"
    "mathematical reasoning|theorem proving|in-context learning|catastrophic forgetting|model merging"
).split("|")
TITLE_HEADS = (
    "Scaling|Rethinking|Towards|Learning|Unified|Efficient|Robust|Self-Supervised|Multi-Scale|"
    "Training-Free|Sparse|Adaptive|Hierarchical|Generalist|Zero-Shot"
).split("|")
TASKS = "Vision|Language|Speech|Robotics|Video|Code|Reasoning|Retrieval|Graphs|3D Scenes".split("|")
BUMPS = {"2": "2.5", "3": "3.5", "1.5": "2"}
MODELS = ["Qwen", "Llama", "Phi", "Gemma", "Mistral", "DeepSeek", "Falcon", "Yi", "InternLM", "Aria"]


@dataclass
class Corpus:
    titles: list[str] = field(default_factory=list)
    abstracts: list[str] = field(default_factory=list)
    kinds: dict[tuple[int, int], str] = field(default_factory=dict)  # (earlier, later) -> kind

    def add(self, title: str, abstract: str) -> int:
        self.titles.append(title)
        self.abstracts.append(abstract)
        return len(self.titles) - 1

    def pairs(self, kind: str) -> set[tuple[int, int]]:
        return {pair for pair, k in self.kinds.items() if k == kind}


def _fill(rng: random.Random, template: str) -> str:
    return template.format(a=rng.choice(CONTENT), b=rng.choice(CONTENT), c=rng.choice(CONTENT))


def _sentences(rng: random.Random) -> list[str]:
    body = [_fill(rng, t) for t in rng.sample(MIDDLES, rng.randint(3, 6))]
    # Specific sentences, as every real abstract has: drawn content words, rarely repeated.
    for _ in range(rng.randint(2, 4)):
        words = rng.sample(CONTENT, 4)
        body.append(f"We show that {words[0]} improves {words[1]} by {rng.randint(2, 40)}% on {words[2]}.")
    rng.shuffle(body)
    return [_fill(rng, rng.choice(OPENINGS)), *body, _fill(rng, rng.choice(CLOSINGS))]


def _report(rng: random.Random, name: str) -> list[str]:
    """A technical report's abstract: the boilerplate every model release shares, around its specifics."""
    return [
        f"In this report, we introduce {name}, the latest series of our large language models.",
        *_sentences(rng)[1:-1],
        f"{name} achieves competitive performance against proprietary models across a wide range of "
        "benchmarks evaluating language understanding, generation, multilingual proficiency, coding, "
        "mathematics, and reasoning.",
        "The model weights are openly available on Hugging Face.",
    ]


def _title(rng: random.Random) -> str:
    topic = " ".join(w.title() for w in rng.choice(CONTENT).split())
    return f"{rng.choice(TITLE_HEADS)} {topic} with {rng.choice(CONTENT).title()} for {rng.choice(TASKS)}"


def _revise_title(rng: random.Random, title: str) -> str:
    words = title.split()
    edit = rng.choice(["typo", "hyphen", "drop", "punctuation"])
    if edit == "typo":  # the earlier copy had a typo that was later fixed
        word = max(range(len(words)), key=lambda i: len(words[i]))
        w = words[word]
        words[word] = w[:2] + w[3] + w[2] + w[4:]
    elif edit == "hyphen":
        hyphenated = [i for i, w in enumerate(words) if "-" in w]
        if hyphenated:
            words[hyphenated[0]] = words[hyphenated[0]].replace("-", " ")
        else:
            words[0:2] = [f"{words[0]}-{words[1]}"]
    elif edit == "drop":
        del words[rng.randrange(1, len(words) - 1)]
    else:
        words[0] = words[0] + ":"
    return " ".join(words)


def _revise_abstract(rng: random.Random, sentences: list[str]) -> list[str]:
    edit = rng.choice(["same", "words", "add", "drop"])
    revised = list(sentences)
    if edit == "words":
        for _ in range(rng.randint(2, 5)):
            i = rng.randrange(len(revised))
            words = revised[i].split()
            words[rng.randrange(len(words))] = rng.choice(["novel", "simple", "new", "strong", "key"])
            revised[i] = " ".join(words)
    elif edit == "add":
        revised.insert(rng.randrange(1, len(revised)), _fill(rng, rng.choice(MIDDLES)))
    elif edit == "drop":
        del revised[rng.randrange(1, len(revised) - 1)]
    return revised


def generate(papers: int = 2000, revisions: int = 300, lookalikes: int = 200, extended: int = 100,
             seed: int = 0) -> Corpus:  # fmt: skip
    """`papers` originals, then the planted pairs, all shuffled into one order."""
    rng = random.Random(seed)
    items: list[tuple[str, str, int, str]] = []  # title, abstract, group, kind
    originals = []
    for group in range(papers):
        sentences = _sentences(rng)
        if group % 20 == 0:  # technical reports: near-identical titles, boilerplate abstracts
            name = f"{MODELS[group // 20 % len(MODELS)]}{rng.choice(list(BUMPS))}"
            title = f"{name} Technical Report"
            sentences = _report(rng, name)
        else:
            title = _title(rng)
        originals.append((title, sentences))
        items.append((title, " ".join(sentences), group, "original"))
    for index in range(revisions):
        title, sentences = originals[index % papers]
        revised = _revise_title(rng, title)
        # A typo swap of two equal letters changes nothing: exact dedup's case, not ours.
        kind = "exact" if title_key(revised) == title_key(title) else "revision"
        items.append((revised, " ".join(_revise_abstract(rng, sentences)), index, kind))
    for _ in range(lookalikes):
        group = rng.randrange(papers)
        title, _ = originals[group]
        if title.endswith("Technical Report"):
            name = title.split()[0]
            version = name.lstrip("".join(MODELS))
            name = name[: len(name) - len(version)] + BUMPS[version]
            title, sentences = f"{name} Technical Report", _report(rng, name)
        else:
            words = title.split()
            words[-1] = rng.choice([t for t in TASKS if t != words[-1]])
            title, sentences = " ".join(words), _sentences(rng)
        items.append((title, " ".join(sentences), group, "lookalike"))
    for index in range(extended):
        group = papers - 1 - index
        _, sentences = originals[group]
        kept = [s for i, s in enumerate(sentences) if i % 2 == 0]
        fresh = _sentences(rng)[1 : len(sentences) - len(kept) + 1]
        abstract = " ".join(kept[:1] + fresh[: len(fresh) // 2] + kept[1:] + fresh[len(fresh) // 2 :])
        items.append((f"{_title(rng)}: An Extended Study", abstract, group, "extended"))
    rng.shuffle(items)
    corpus = Corpus()
    where: dict[int, int] = {}
    for title, abstract, group, kind in items:
        if kind == "original":
            where[group] = corpus.add(title, abstract)
    for title, abstract, group, kind in items:
        if kind != "original":
            row = corpus.add(title, abstract)  # always after its original: revisions come later
            corpus.kinds[(min(where[group], row), max(where[group], row))] = kind
    return corpus

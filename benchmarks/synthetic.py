"""Synthetic Daily Papers dumps for benchmarks: both layouts, realistic lengths, ~7% repeats across files.

Text is drawn from a fixed pool of generated sentences with a seeded generator, so the same arguments
always give the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

_WORDS = (
    "model models learning neural network networks training data dataset language vision transformer "
    "attention diffusion reasoning agent agents benchmark benchmarks task tasks performance method "
    "methods approach results state art large scale efficient robust generation retrieval reward policy "
    "optimization gradient loss representation representations embedding embeddings token tokens image "
    "images video text multimodal alignment evaluation inference memory compute parameters fine tuning "
    "pretraining sparse dense mixture experts graph latent space sampling noise signal feature features "
    "we propose show demonstrate introduce novel framework achieves outperforms existing prior work"
).split()
BLANK_HEADER = ["new", "Get trending papers in your email inbox!", "Subscribe", "Daily Papers"]
BLANK_HEADER += ["byAK and the research community", "Mar 12"]
COMPACT_HEADER = [
    "Get trending papers in your email inbox once a day!",
    "Get trending papers in your email inbox!",
]


def _sentences(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        words = rng.choices(_WORDS, k=rng.randint(10, 28))
        out.append(" ".join(words).capitalize() + ".")
    return out


def generate(folder: Path, papers: int, files: int = 10, repeat_share: float = 0.07, seed: int = 0) -> int:
    """Write `files` dumps holding `papers` papers in all, `repeat_share` of them repeats of earlier
    papers; returns the number of distinct papers."""
    rng = random.Random(seed)
    pool = _sentences(rng, 20_000)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = papers // files
    written: list[tuple[str, str]] = []
    distinct = 0
    for index in range(files):
        count = per_file if index < files - 1 else papers - per_file * (files - 1)
        lines: list[str] = []
        for _ in range(count):
            if written and rng.random() < repeat_share:
                title, abstract = written[rng.randrange(len(written))]
            else:
                distinct += 1
                words = " ".join(rng.choices(_WORDS, k=rng.randint(4, 14)))
                title = f"{words.title()} {distinct}"
                abstract = " ".join(rng.choices(pool, k=rng.randint(4, 14)))
                written.append((title, abstract))
            lines += [title, abstract]
        if index % 2 == 0:
            text = "\n\n".join(BLANK_HEADER + lines)
        else:
            lines[0] = "Subscribe" + lines[0]
            text = "\n".join(COMPACT_HEADER + lines)
        (folder / f"{index:03d}_synthetic.txt").write_text(text, encoding="utf-8")
    return distinct


_MODELS = "ResNet ViT BERT GPT LLaMA T5 CLIP Mamba Whisper SAM".split()
_DATASETS = "ImageNet COCO SQuAD GLUE MMLU CIFAR-10 LibriSpeech ADE20K WMT14 HumanEval".split()
_METRICS = "accuracy F1 BLEU recall mAP perplexity".split()
_TEMPLATE = (
    "We evaluate {model} on {dataset} under a fixed training budget of {budget} GPU hours. "
    "{model} reaches a {metric} of {score:.1f} on {dataset}, against {base:.1f} for the baseline. "
    "The gain holds across {seeds} random seeds and {sizes} model sizes. Code is available."
)


def generate_templated(folder: Path, papers: int, files: int = 10, seed: int = 0) -> int:
    """Write `files` dumps of `papers` short papers with formulaic titles and abstracts (one template,
    a few slots): the look-alike text that makes near-duplicate candidates grow without bound (issue 19).
    Every title is distinct; returns the number of papers."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = papers // files
    number = 0
    for index in range(files):
        count = per_file if index < files - 1 else papers - per_file * (files - 1)
        lines: list[str] = []
        for _ in range(count):
            number += 1
            model, dataset, metric = rng.choice(_MODELS), rng.choice(_DATASETS), rng.choice(_METRICS)
            words = " ".join(rng.choices(_WORDS, k=rng.randint(3, 6))).title()
            lines.append(f"{words}: {model} on {dataset}, Study {number}")
            lines.append(
                _TEMPLATE.format(
                    model=model,
                    dataset=dataset,
                    metric=metric,
                    budget=rng.randint(8, 512),
                    score=rng.uniform(40, 99),
                    base=rng.uniform(30, 90),
                    seeds=rng.randint(3, 10),
                    sizes=rng.randint(2, 6),
                )
            )
        text = "\n\n".join(BLANK_HEADER + lines)
        (folder / f"{index:03d}_templated.txt").write_text(text, encoding="utf-8")
    return papers

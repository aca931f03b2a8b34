"""The lexical head: word n-gram TF-IDF features and a linear classifier per task.

A transformer sees sub-word pieces through a handful of layers; short finance headlines are often
decided by a few exact words or pairs of words ("cuts guidance", "price target", "rate hike").
The lexical head scores those directly, and the model's probabilities are the weighted geometric
mean of the two::

    p(class | text) ~ p_network(class | text) ** (1 - w)  *  p_lexical(class | text) ** w

The head is fitted after the network, on the same training examples, by multinomial logistic
regression with an L2 penalty (convex; full-batch L-BFGS in torch, so no extra dependency; scoring
needs numpy only, so the light install without torch scores with it too). It is
stored in the model directory as ``lexical.safetensors``: idf, per-task weights and, for the
vocabulary, a 64-bit key per n-gram (two CRC-32s of its UTF-8 bytes) instead of the n-gram itself,
so no text of the training data is stored. It looks at each text alone, so scores stay
independent of batching.

Features follow the usual TF-IDF recipe: lower-cased words of two or more word characters,
n-grams of 1..``max_n`` words, n-grams seen in fewer than ``min_df`` training texts dropped,
``1 + ln(count)`` term frequency, smoothed idf ``ln((1 + N) / (1 + df)) + 1``, rows L2-normalised.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from finsentry.scoring.modeldir import ModelSpec

LEXICAL_FILE = "lexical.safetensors"
KEYS = "crc32x2"  # how n-grams are keyed (recorded in the model spec)
_WORD = re.compile(r"\b\w\w+\b")
_SECOND_SEED = 0x9E3779B9


def ngram_key(gram: str) -> int:
    """A stable 64-bit key of an n-gram: two CRC-32s (different seeds) of its UTF-8 bytes.

    Stable across processes and platforms (Python's ``hash`` is salted per process); with tens of
    thousands of n-grams in a vocabulary a collision is very unlikely (``fit_lexical`` checks).
    """
    data = gram.encode("utf-8")
    return (zlib.crc32(data) << 32) | zlib.crc32(data, _SECOND_SEED)


def ngrams(text: str, max_n: int) -> list[str]:
    """Lower-cased words (two or more word characters) and their n-grams up to ``max_n``."""
    words = _WORD.findall(text.lower())
    out = list(words)
    if max_n >= 2:
        out += map(" ".join, zip(words, words[1:], strict=False))
    for n in range(3, max_n + 1):
        out += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return out


@dataclass
class LexicalHead:
    """Vocabulary, idf and one linear layer per task; see the module docstring."""

    vocab: dict[int, int]  # ngram_key(n-gram) -> feature index
    idf: np.ndarray  # (V,) float32
    weights: dict[str, np.ndarray]  # task -> (V, classes) float32
    biases: dict[str, np.ndarray]  # task -> (classes,) float32
    labels: dict[str, list[str]]
    weight: float = 0.5  # share of the lexical head in the log-linear mix
    max_n: int = 2
    min_df: int = 2
    c: float = 10.0
    _idf: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._idf = np.asarray(self.idf, dtype=np.float64)

    # -- features --------------------------------------------------------------------------------
    def features(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat feature ids, their TF-IDF values (float32) and per-text offsets (CSR rows)."""
        lookup = self.vocab.get
        ids: list[int] = []
        counts: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(ids))
            found: dict[int, int] = {}
            for gram in ngrams(text, self.max_n):
                i = lookup(ngram_key(gram))
                if i is not None:
                    found[i] = found.get(i, 0) + 1
            ids += found.keys()
            counts += found.values()
        index = np.asarray(ids, dtype=np.int64)
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self._idf[index]
        starts = np.asarray(offsets, dtype=np.int64)
        squares = np.zeros(len(texts))
        if len(index):
            rows = np.repeat(np.arange(len(texts)), np.diff(np.append(starts, len(index))))
            np.add.at(squares, rows, values * values)
            values /= np.sqrt(np.where(squares > 0, squares, 1.0))[rows]
        return index, values.astype(np.float32), starts

    def log_probs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``{task: (len(texts), classes)}`` log-probabilities of the lexical head alone."""
        ids, values, offsets = self.features(texts)
        rows = np.repeat(np.arange(len(texts)), np.diff(np.append(offsets, len(ids))))
        out = {}
        for task, weight in self.weights.items():
            logits = np.zeros((len(texts), weight.shape[1]), dtype=np.float64)
            np.add.at(logits, rows, values[:, None].astype(np.float64) * weight[ids])
            out[task] = log_softmax(logits + self.biases[task]).astype(np.float32)
        return out

    # -- files -----------------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        return {
            "weights": LEXICAL_FILE,
            "keys": KEYS,
            "weight": self.weight,
            "max_n": self.max_n,
            "min_df": self.min_df,
            "c": self.c,
            "labels": self.labels,
        }

    def contains(self, gram: str) -> bool:
        return ngram_key(gram) in self.vocab

    def index(self, gram: str) -> int:
        return self.vocab[ngram_key(gram)]

    def save(self, directory: Path) -> dict[str, Any]:
        """Write ``lexical.safetensors`` into ``directory``; returns the spec entry to record."""
        keys = np.zeros(len(self.vocab), dtype=np.uint64)
        keys[list(self.vocab.values())] = list(self.vocab.keys())
        tensors = {"idf": np.ascontiguousarray(self.idf), "keys": keys.view(np.int64)}
        for task in self.weights:
            tensors[f"{task}.weight"] = np.ascontiguousarray(self.weights[task])
            tensors[f"{task}.bias"] = np.ascontiguousarray(self.biases[task])
        save_file(tensors, str(directory / LEXICAL_FILE))
        return self.spec()

    @classmethod
    def load(cls, directory: Path, spec: dict[str, Any]) -> LexicalHead:
        if spec.get("keys", KEYS) != KEYS:
            raise ValueError(
                f"{directory}: lexical head keyed by {spec.get('keys')!r}; this finsentry knows "
                f"{KEYS!r}: upgrade finsentry"
            )
        tensors = load_file(str(directory / spec.get("weights", LEXICAL_FILE)))
        labels = {task: list(names) for task, names in spec["labels"].items()}
        keys = tensors["keys"].view(np.uint64).tolist()
        if len(keys) != tensors["idf"].shape[0] or len(set(keys)) != len(keys):
            raise ValueError(
                f"{directory}: the lexical head's keys do not match its weights: the model "
                "directory is damaged; refit it with `finsentry train-lexical`"
            )
        return cls(
            vocab={key: i for i, key in enumerate(keys)},
            idf=tensors["idf"].astype(np.float32),
            weights={t: tensors[f"{t}.weight"].astype(np.float32) for t in labels},
            biases={t: tensors[f"{t}.bias"].astype(np.float32) for t in labels},
            labels=labels,
            weight=float(spec.get("weight", 0.5)),
            max_n=int(spec.get("max_n", 2)),
            min_df=int(spec.get("min_df", 2)),
            c=float(spec.get("c", 10.0)),
        )


def load_lexical(directory: Path, spec: ModelSpec) -> LexicalHead | None:
    """The model's lexical head, or None when it has none."""
    if not spec.lexical:
        return None
    head = LexicalHead.load(directory, spec.lexical)
    for task, names in head.labels.items():
        if spec.heads.get(task) != names:
            raise ValueError(
                f"{directory}: the lexical head's {task} classes differ from the network's; "
                "refit it with `finsentry train-lexical`"
            )
    return head


def fit_lexical(
    texts: Sequence[str],
    tasks: Sequence[str],
    labels: Sequence[str],
    label_names: dict[str, list[str]],
    *,
    weight: float = 0.5,
    max_n: int = 2,
    min_df: int = 2,
    c: float = 10.0,
    max_iter: int = 300,
) -> LexicalHead:
    """Fit the head on labelled texts (``tasks[i]`` says which head ``labels[i]`` belongs to).

    The vocabulary and idf come from all the texts; each task's classifier from its own rows.
    ``c`` is the inverse L2 strength (per example, as in the usual logistic-regression convention).
    """
    if not 0.0 < weight < 1.0:
        raise ValueError("the lexical weight must be between 0 and 1 (exclusive)")
    grams = [set(ngrams(t, max_n)) for t in texts]
    df = Counter(g for row in grams for g in row)
    terms = sorted(g for g, n in df.items() if n >= min_df)
    if not terms:
        raise ValueError(f"no word n-gram occurs in {min_df} or more training texts")
    vocab = {ngram_key(g): i for i, g in enumerate(terms)}
    if len(vocab) != len(terms):  # two n-grams with one key: astronomically rare, never silent
        raise ValueError("two n-grams share a key; report this with the training data")
    n_docs = len(texts)
    idf = np.asarray(
        [math.log((1 + n_docs) / (1 + df[g])) + 1.0 for g in terms], dtype=np.float32
    )
    head = LexicalHead(vocab, idf, {}, {}, {}, weight, max_n, min_df, c)
    for task, names in label_names.items():
        rows = [i for i, t in enumerate(tasks) if t == task]
        if not rows:
            continue
        index = {name: k for k, name in enumerate(names)}
        y = [index[labels[i]] for i in rows]
        w, b = _logistic_regression(head, [texts[i] for i in rows], y, len(names), c, max_iter)
        head.weights[task], head.biases[task], head.labels[task] = w, b, list(names)
    return head


def _logistic_regression(
    head: LexicalHead,
    texts: Sequence[str],
    labels: list[int],
    classes: int,
    c: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, loss = mean cross-entropy + ||W||^2 / (2 c n)."""
    import torch

    y = torch.tensor(labels)
    ids, values, offsets = (torch.from_numpy(a) for a in head.features(texts))
    lengths = torch.diff(offsets, append=torch.tensor([len(ids)]))
    rows = torch.repeat_interleave(torch.arange(len(texts)), lengths)
    x = torch.sparse_coo_tensor(
        torch.stack([rows, ids]), values, (len(texts), len(head.vocab)), check_invariants=True
    ).coalesce()
    weight = torch.zeros((len(head.vocab), classes), requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    penalty = 1.0 / (2.0 * c * len(texts))
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-6,
        tolerance_change=1e-10,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = torch.sparse.mm(x, weight) + bias
        loss = torch.nn.functional.cross_entropy(logits, y) + penalty * (weight * weight).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    with torch.enable_grad():
        optimizer.step(closure)  # type: ignore[no-untyped-call]
    return weight.detach().numpy().copy(), bias.detach().numpy().copy()


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64."""
    values = np.asarray(logits, dtype=np.float64)
    shifted = values - values.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # type: ignore[no-any-return]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    return np.exp(log_softmax(logits))  # type: ignore[no-any-return]


def mixed_log_probs(
    network_logits: np.ndarray, lexical_log_probs: np.ndarray, weight: float
) -> np.ndarray:
    """Unnormalised log-probabilities of the weighted geometric mean of the network's and the
    lexical head's (softmax them)."""
    return (1.0 - weight) * log_softmax(network_logits) + weight * lexical_log_probs


def mix(network_logits: np.ndarray, lexical_log_probs: np.ndarray, weight: float) -> np.ndarray:
    """Probabilities of the weighted geometric mean of the network's and the lexical head's."""
    return softmax(mixed_log_probs(network_logits, lexical_log_probs, weight))

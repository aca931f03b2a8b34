"""The real scoring engine on the committed default model (loaded once, offline, on the CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finsentry.config import Settings
from finsentry.entities import name_spans
from finsentry.schema import SENTIMENT_LABELS, Target
from finsentry.scoring import EmptyTextError, ModelNotFoundError, Scorer, load_scorer

TEXTS = [
    "Shares plunge after profit warning",
    "Apple beats estimates and raises its dividend",
    "Fed holds rates steady, signals patience",
    "Oil prices climb as OPEC+ extends output cuts into next year, traders say",
    "Tesla recalls 120,000 vehicles over seat-belt issue",
    "Gold edges lower",
    "Microsoft to acquire gaming studio in $2 billion deal; shares little changed in early trade",
]


def test_scores_are_probabilities_with_known_labels(default_scorer: Scorer) -> None:
    scores = default_scorer.score(TEXTS)
    assert len(scores) == len(TEXTS)
    topics = set(default_scorer.labels["topic"])
    assert len(topics) == 20
    for s in scores:
        assert abs(s.negative + s.neutral + s.positive - 1.0) < 1e-5
        assert s.sentiment in SENTIMENT_LABELS
        assert s.topic in topics and 0.05 <= s.topic_prob <= 1.0
        assert -1.0 <= s.score <= 1.0
    assert default_scorer.model_id.startswith("finsentry-minilm@")


def test_clear_headlines_get_the_obvious_sentiment(default_scorer: Scorer) -> None:
    plunge, beat = default_scorer.score(TEXTS[:2])
    assert plunge.sentiment == "negative" and plunge.score < -0.3
    assert beat.sentiment == "positive" and beat.score > 0.3


def test_results_do_not_depend_on_batching(default_scorer: Scorer) -> None:
    alone = [default_scorer.score([t])[0] for t in TEXTS]
    together = default_scorer.score(TEXTS)
    reordered = default_scorer.score(list(reversed(TEXTS)))[::-1]
    with_long = default_scorer.score(TEXTS + ["word " * 300, "x"])[: len(TEXTS)]
    budget = default_scorer.token_budget
    try:
        default_scorer.token_budget = 24  # forces one or two texts per batch
        tiny_batches = default_scorer.score(TEXTS)
    finally:
        default_scorer.token_budget = budget
    for variant in (together, reordered, with_long, tiny_batches):
        for a, b in zip(alone, variant, strict=True):
            assert abs(a.negative - b.negative) < 1e-4
            assert abs(a.positive - b.positive) < 1e-4
            assert abs(a.topic_prob - b.topic_prob) < 1e-4
            assert a.topic == b.topic


def test_odd_texts_score_and_long_ones_are_truncated(default_scorer: Scorer) -> None:
    odd = [
        "🚀🚀 $GME to the moon 🌕 " * 3,
        "丰田汽车第三季度利润大幅下降",
        "Сбербанк увеличил чистую прибыль на 20%",
        "أرامكو تعلن عن أرباح قياسية",
        "Shares fall. " + "Analysts are cautious about the outlook. " * 2000,
        "a",
        "\u200b zero width and tabs\t\t here",
    ]
    scores = default_scorer.score(odd)
    assert len(scores) == len(odd)
    rows = default_scorer.tokenize(odd)
    assert max(len(r) for r in rows) == default_scorer.max_length
    for s in scores:
        assert abs(s.negative + s.neutral + s.positive - 1.0) < 1e-5


def test_empty_text_raises_a_clear_error(default_scorer: Scorer) -> None:
    with pytest.raises(EmptyTextError) as caught:
        default_scorer.score(["fine headline", "", "   \n"])
    assert caught.value.indices == (1, 2)
    assert isinstance(caught.value, ValueError)
    assert "empty_text" in str(caught.value)
    assert default_scorer.score([]) == []


def test_stats_count_real_and_padded_tokens(default_scorer: Scorer) -> None:
    before = default_scorer.stats.texts
    default_scorer.score(TEXTS)
    stats = default_scorer.stats
    assert stats.texts == before + len(TEXTS)
    assert stats.padded_tokens >= stats.real_tokens > 0
    assert 0.0 <= stats.padding_share < 1.0


def test_missing_model_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_scorer(Settings(model=str(tmp_path / "nope"), device="cpu"))
    with pytest.raises(ValueError, match="unknown device"):
        load_scorer(Settings(model="default", device="tpu"))


def test_a_plain_hub_sentiment_classifier_directory_loads(
    tmp_path: Path, tiny_backbone_dir: Path
) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(str(tiny_backbone_dir))
    config.num_labels = 3
    config.id2label = {0: "Bearish", 1: "Neutral", 2: "Bullish"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    BertForSequenceClassification(config).save_pretrained(str(tmp_path))
    AutoTokenizer.from_pretrained(str(tiny_backbone_dir)).save_pretrained(str(tmp_path))
    scorer = load_scorer(Settings(model=str(tmp_path), device="cpu", max_length=32))
    (s,) = scorer.score(["Stocks rally"])
    assert abs(s.negative + s.neutral + s.positive - 1.0) < 1e-5
    assert s.topic == "unknown" and s.topic_prob == 0.0
    assert scorer.model_id == f"{tmp_path.name}@hub"


def test_backbone_loads_and_scores_with_the_hub_switched_off(tmp_path: Path) -> None:
    script = (
        "import json\n"
        "from finsentry.config import Settings\n"
        "from finsentry.scoring import load_scorer\n"
        "s = load_scorer(Settings(model='default', device='cpu', cpu_threads=1))\n"
        "r = s.score(['Shares plunge after profit warning'])[0]\n"
        "print(json.dumps({'model': s.model_id, 'score': r.score, 'topic': r.topic}))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["model"].startswith("finsentry-minilm@")
    assert result["score"] < 0


PAIRS = [
    ("Intel soars while AMD sinks on weak guidance", ["Intel", "AMD"]),
    ("Regulator fines Barclays; HSBC escapes penalty", ["Barclays", "HSBC"]),
    ("Siemens wins rail order", ["Siemens", "Alstom"]),  # Alstom is not named
]


def _targets(pairs: list[tuple[str, list[str]]]) -> list[list[Target]]:
    return [[Target(n, name_spans(text, n)) for n in names] for text, names in pairs]


def test_entity_scores_do_not_depend_on_batching(default_scorer: Scorer) -> None:
    texts = [t for t, _ in PAIRS]
    together = default_scorer.score(texts, _targets(PAIRS))
    alone = [default_scorer.score([t], _targets([p]))[0] for t, p in zip(texts, PAIRS, strict=True)]
    budget = default_scorer.token_budget
    try:
        default_scorer.token_budget = 16
        tiny = default_scorer.score(list(reversed(texts)), _targets(PAIRS[::-1]))[::-1]
    finally:
        default_scorer.token_budget = budget
    for variant in (alone, tiny):
        for a, b in zip(together, variant, strict=True):
            assert [t.target for t in a.targets] == [t.target for t in b.targets]
            for x, y in zip(a.targets, b.targets, strict=True):
                assert abs(x.negative - y.negative) < 1e-4 and abs(x.positive - y.positive) < 1e-4
                assert x.basis == y.basis


def test_an_entity_the_text_does_not_name_gets_the_headline_sentiment(
    default_scorer: Scorer,
) -> None:
    (result,) = default_scorer.score([PAIRS[2][0]], _targets([PAIRS[2]]))
    siemens, alstom = result.targets
    assert alstom.basis == "headline" and siemens.basis == "entity"
    assert (alstom.negative, alstom.neutral, alstom.positive) == (
        result.negative,
        result.neutral,
        result.positive,
    )
    assert abs(siemens.negative + siemens.neutral + siemens.positive - 1.0) < 1e-5
    # a mention cut off by max_length has no tokens to read: the headline's sentiment
    long_text = "word " * 200 + "Siemens wins rail order"
    (cut,) = default_scorer.score([long_text], [[Target("Siemens", name_spans(long_text, "Siemens"))]])
    assert cut.targets[0].basis == "headline"

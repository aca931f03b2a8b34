"""The synthetic report sentences: labels follow what the figures say, named rows name their
company, and both files read back as training data."""

from __future__ import annotations

import re
from pathlib import Path

from finsentry.training.data import load_examples
from finsentry.training.synthetic_wire import BAD_UP, GOOD_UP, generate, write

# "METRIC ... CUR X UNIT ... CUR Y UNIT": two figures in one currency, no direction word
_FIGURES = re.compile(
    r"(?:^|'s |^Its |^The \w+'s )(?P<metric>[A-Za-z ]+?)(?::| was| totalled| amounted to) "
    r"(?P<cur>[A-Z]{3}) (?P<x>[\d.]+) \w+,? \(?(?:compared with |against )?(?P=cur) (?P<y>[\d.]+)"
)


def _metric(name: str) -> str:
    lowered = name.strip().lower()
    for metric in GOOD_UP + BAD_UP:
        if lowered.endswith(metric.lower()):
            return metric
    raise AssertionError(name)


def test_a_seed_gives_the_same_distinct_rows() -> None:
    rows = generate(800, seed=4)
    assert rows == generate(800, seed=4)
    assert len({text for text, _, _ in rows}) == len(rows) == 800
    assert all("{" not in text and text[0].isupper() for text, _, _ in rows)
    # "the company's" becomes "Its" only where it opens the sentence
    assert not any(" Its " in text or " The company" in text for text, _, _ in generate(3000, seed=1))
    assert {label for _, label, _ in rows} == {"negative", "neutral", "positive"}


def test_figures_alone_decide_the_label_by_the_metric_direction_of_good() -> None:
    checked = 0
    for text, label, _ in generate(3000, seed=9):
        match = _FIGURES.search(text)
        if match is None:
            continue
        metric = _metric(match["metric"])
        more = float(match["x"]) > float(match["y"])
        good = more if metric in GOOD_UP else not more
        assert label == ("positive" if good else "negative"), text
        checked += 1
    assert checked > 150


def test_a_loss_that_narrows_is_good_and_one_that_widens_is_bad() -> None:
    rows = generate(4000, seed=2)
    narrowed = [label for text, label, _ in rows if "loss" in text and " narrowed " in text]
    widened = [label for text, label, _ in rows if "loss" in text and " widened " in text]
    assert narrowed and set(narrowed) == {"positive"}
    assert widened and set(widened) == {"negative"}


def test_named_rows_name_their_company_and_both_files_load_as_training_data(tmp_path: Path) -> None:
    rows = generate(600, seed=6)
    named = [(text, company) for text, _, company in rows if company is not None]
    assert 150 < len(named) < 450
    assert all(company in text for text, company in named)
    plain_path, named_path = tmp_path / "wire.csv", tmp_path / "wire_named.csv"
    n_plain, n_named = write(rows, plain_path, named_path)
    assert (n_plain, n_named) == (len(rows) - len(named), len(named))
    sentences = load_examples(f"sentiment={plain_path}", "all")
    assert len(sentences) == n_plain
    assert {e.label for e in sentences} == {"negative", "neutral", "positive"}
    entity_rows = [e for e in load_examples(named_path, "all") if e.task == "entity"]
    assert len(entity_rows) == n_named
    assert all(e.spans for e in entity_rows)  # the tagger-side spans of each company were found

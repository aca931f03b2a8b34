"""Name swapping keeps each headline's sentence, labels and mention positions, with other names."""

from __future__ import annotations

import random

from finsentry.entities import name_spans
from finsentry.training.augment import name_pool, swap_names
from finsentry.training.data import Example

POOL = ["Acme Holdings", "Borealis Steel", "Cobalt Air", "Dunmore Foods"]


def entity(text: str, name: str, label: str) -> Example:
    return Example(text, "entity", label, name, name_spans(text, name))


def headline(text: str, label: str) -> Example:
    return Example(text, "sentiment", label)


def test_every_company_of_a_headline_gets_another_name_and_keeps_its_label() -> None:
    text = "Infosys gains as Wipro slips; Infosys raises outlook"
    examples = [entity(text, "Infosys", "positive"), entity(text, "Wipro", "negative")]
    added = swap_names(examples, 1.0, seed=3, pool=POOL)
    assert len(added) == 2
    new_text = added[0].text
    assert "Infosys" not in new_text and "Wipro" not in new_text
    assert new_text.endswith("raises outlook")
    by_label = {e.label: e for e in added}
    up, down = by_label["positive"], by_label["negative"]
    assert up.target != down.target and {up.target, down.target} <= set(POOL)
    assert len(up.spans) == 2  # both mentions of the first company
    for example in added:
        assert example.text == new_text
        for start, end in example.spans:
            assert new_text[start:end] == example.target


def test_the_agreed_headline_label_comes_along() -> None:
    text = "Tata Power commissions a new solar plant"
    added = swap_names(
        [entity(text, "Tata Power", "positive"), headline(text, "positive")], 1.0, 1, POOL
    )
    assert sorted(e.task for e in added) == ["entity", "sentiment"]
    assert len({e.text for e in added}) == 1 and "Tata Power" not in added[0].text


def test_copies_depend_on_the_data_not_on_its_order() -> None:
    examples = [entity(f"Company{i} shares rise", f"Company{i}", "positive") for i in range(40)]
    first = swap_names(examples, 0.5, seed=7, pool=POOL)
    shuffled = examples[:]
    random.Random(1).shuffle(shuffled)
    second = swap_names(shuffled, 0.5, seed=7, pool=POOL)
    assert 5 < len(first) < 35  # about half
    assert sorted(map(repr, first)) == sorted(map(repr, second))
    assert swap_names(examples, 0.5, seed=8, pool=POOL) != first
    assert swap_names(examples, 0.0, seed=7, pool=POOL) == []


def test_headlines_without_a_clean_swap_are_left_alone() -> None:
    nested = "Tata Motors and Tata report sales"  # "Tata" also inside "Tata Motors"
    unfound = Example("Markets rally", "entity", "positive", "Reliance", ())
    tweets = [Example("stocks rip higher", "sentiment", "positive")]
    examples = [entity(nested, "Tata Motors", "neutral"), entity(nested, "Tata", "neutral")]
    assert swap_names([*examples, unfound, *tweets], 1.0, seed=2, pool=POOL) == []


def test_the_pool_holds_data_and_watchlist_companies_but_not_common_nouns() -> None:
    examples = [
        entity("Zephyr Mills beats estimates", "Zephyr Mills", "positive"),
        entity("gold slips on dollar", "gold", "negative"),
    ]
    pool = name_pool(examples)
    assert "Zephyr Mills" in pool and "gold" not in pool
    assert len(pool) > 20  # the bundled watchlist's companies too

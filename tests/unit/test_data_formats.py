"""Labelled data in the shapes public data sets come in: other column names, the Financial
PhraseBank's ``sentence@label`` lines, Latin-1 files."""

from __future__ import annotations

from pathlib import Path

import pytest

from finsentry.training.data import DataError, Example, load_examples


def test_other_column_names_are_taken_for_text_and_label(tmp_path: Path) -> None:
    csv_file = tmp_path / "news.csv"
    csv_file.write_text('sentence,label\n"Operating profit rose to EUR 13.1 mn.",positive\n')
    assert load_examples(csv_file, "sentiment") == [
        Example("Operating profit rose to EUR 13.1 mn.", "sentiment", "positive")
    ]
    tsv = tmp_path / "news.tsv"
    tsv.write_text("headline\tsentiment\nSales fell\tNegative\n")
    assert load_examples(tsv, "sentiment") == [Example("Sales fell", "sentiment", "negative")]
    unnamed = tmp_path / "body.csv"
    unnamed.write_text("body,label\nx,positive\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['text'\]"):
        load_examples(unnamed, "sentiment")


def test_an_entity_file_keeps_its_title_column(tmp_path: Path) -> None:
    sentfin = tmp_path / "entities.csv"
    sentfin.write_text('id,title,entities\n1,Infosys gains as Wipro slips,"{""Infosys"": ""positive"", ""Wipro"": ""negative""}"\n')
    found = load_examples(sentfin, "entity")
    assert [(e.target, e.label) for e in found] == [("Infosys", "positive"), ("Wipro", "negative")]


def test_phrase_bank_lines_in_latin_1(tmp_path: Path) -> None:
    bank = tmp_path / "Sentences_AllAgree.txt"
    lines = "Net sales rose 5 % to EUR 10 mn @ Nokia.@positive\r\n\r\nThe caf\xe9 chain cut jobs .@negative\r\n"
    bank.write_bytes(lines.encode("latin-1"))
    found = load_examples(bank, "sentiment")
    assert [(e.text, e.label) for e in found] == [
        ("Net sales rose 5 % to EUR 10 mn @ Nokia.", "positive"),  # split at the last @
        ("The café chain cut jobs .", "negative"),
    ]
    broken = tmp_path / "plain.txt"
    broken.write_text("no label here\n")
    with pytest.raises(DataError, match="sentence@label"):
        load_examples(broken, "sentiment")

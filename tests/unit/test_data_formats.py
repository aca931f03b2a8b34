"""Labelled data in the shapes public data sets come in: other column names, the Financial
PhraseBank's ``sentence@label`` lines, Latin-1 files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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


def test_column_names_are_found_whatever_their_case(tmp_path: Path) -> None:
    capitalised = tmp_path / "data.csv"
    capitalised.write_text('Sentence,Sentiment\n"The company cut 200 jobs",Negative\n')
    assert load_examples(capitalised, "sentiment") == [
        Example("The company cut 200 jobs", "sentiment", "negative")
    ]
    sentfin_like = tmp_path / "entities.csv"
    sentfin_like.write_text('Title,Entities\nWipro slips,"{""Wipro"": ""negative""}"\n')
    found = load_examples(sentfin_like, "entity")
    assert [(e.target, e.label, e.spans) for e in found] == [("Wipro", "negative", ((0, 5),))]


def test_a_csv_without_a_header_is_read_as_label_and_text(tmp_path: Path) -> None:
    label_first = tmp_path / "all-data.csv"
    label_first.write_bytes(
        b'neutral,"According to Gran , the company has no plans to move."\n'
        b'positive,"Operating profit rose to EUR 13.1 mn"\n'
        b'negative,"Sales in the caf\xe9 unit fell"\n'  # Latin-1, as the copies on the web come
    )
    found = load_examples(label_first, "sentiment")
    assert [(e.text, e.label) for e in found] == [
        ("According to Gran , the company has no plans to move.", "neutral"),
        ("Operating profit rose to EUR 13.1 mn", "positive"),
        ("Sales in the café unit fell", "negative"),
    ]
    text_first = tmp_path / "ids.tsv"
    text_first.write_text("Shares fell\t0\nShares rose\t2\n")
    names = {"sentiment": ["negative", "neutral", "positive"]}
    assert [e.label for e in load_examples(text_first, "sentiment", names)] == [
        "negative",
        "positive",
    ]
    # a header that is not a label and a text is a header: its missing columns are named
    refused(tmp_path / "wrong.csv", "body,score\nShares fell,0.2\n", r"\['label', 'text'\]")
    # a later row that is no label means the file is not label,text: named as such
    refused(tmp_path / "mixed.csv", "positive,Shares rose\nShares fell,sharply\n", "lacks column")


def refused(path: Path, content: str, match: str) -> None:
    """A file ``load_examples`` must refuse with a message matching ``match``."""
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        load_examples(path, "sentiment")


def test_a_json_file_may_hold_one_array(tmp_path: Path) -> None:
    array = tmp_path / "test.json"
    array.write_text('[{"text": "Shares fell", "label": 0}, {"text": "x", "label": 9}]')
    with pytest.raises(DataError, match="outside the 3 label names"):
        load_examples(array, "sentiment", {"sentiment": ["negative", "neutral", "positive"]})
    array.write_text('[{"text": "Shares fell", "label": 0},\n {"text": "Shares rose", "label": 2}]')
    found = load_examples(array, "sentiment", {"sentiment": ["negative", "neutral", "positive"]})
    assert [(e.text, e.label) for e in found] == [
        ("Shares fell", "negative"),
        ("Shares rose", "positive"),
    ]
    refused(tmp_path / "scalar.json", "[1, 2]", "must be a JSON object")
    refused(tmp_path / "broken.json", '[{"text": "x", "label": 1}', "not JSON lines or a JSON array")


def test_one_company_per_row_is_entity_level(tmp_path: Path) -> None:
    rows = tmp_path / "targets.csv"
    rows.write_text(
        "text,company,label\n"
        "Infosys gains as Wipro slips,Infosys,positive\n"
        "Infosys gains as Wipro slips,Wipro,negative\n"
        "Tesco profits slump,Tesco,negative\n"
    )
    entity = load_examples(rows, "entity")
    assert [(e.text, e.target, e.label, e.spans) for e in entity] == [
        ("Infosys gains as Wipro slips", "Infosys", "positive", ((0, 7),)),
        ("Infosys gains as Wipro slips", "Wipro", "negative", ((17, 22),)),
        ("Tesco profits slump", "Tesco", "negative", ((0, 5),)),
    ]
    # headline sentiment only where the text's companies agree, as for SEntFiN files
    assert [(e.text, e.label) for e in load_examples(rows, "sentiment")] == [
        ("Tesco profits slump", "negative")
    ]
    rows.write_text("text,entity,label\nTesco slumps,Tesco,negative\nTesco slumps,Tesco,positive\n")
    with pytest.raises(DataError, match=r"row 3: 'Tesco' has two labels"):
        load_examples(rows, "entity")
    rows.write_text("text,entity,label\nTesco slumps,,negative\n")
    with pytest.raises(DataError, match="row 2: the entity column is empty"):
        load_examples(rows, "entity")


def test_parquet_is_read_or_the_error_says_what_to_install(tmp_path: Path) -> None:
    frame = pd.DataFrame({"sentence": ["Shares fell"], "label": ["negative"]})
    path = tmp_path / "test.parquet"
    try:
        frame.to_parquet(path)
    except ImportError:  # no Parquet engine here: the reader must say how to get one
        path.write_bytes(b"PAR1")
        with pytest.raises(DataError, match=r"needs pyarrow \(pip install pyarrow\)"):
            load_examples(path, "sentiment")
        return
    assert load_examples(path, "sentiment") == [Example("Shares fell", "sentiment", "negative")]


def test_sentiment_written_as_a_sign_is_read(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text("headline,sentiment\nSales fell,-1\nBoard meets,0\nProfit rose,1.0\n")
    found = load_examples(scores, "sentiment")
    assert [e.label for e in found] == ["negative", "neutral", "positive"]
    per_company = tmp_path / "companies.csv"
    per_company.write_text("text,entity,label\nA gains as B slips,A,1\nA gains as B slips,B,-1\n")
    assert [(e.target, e.label) for e in load_examples(per_company, "entity")] == [
        ("A", "positive"), ("B", "negative"),
    ]  # fmt: skip
    ids = tmp_path / "ids.csv"  # 0, 1, 2 are ids of named classes, never signs
    ids.write_text("text,label\nSales fell,0\nProfit rose,1\n")
    with pytest.raises(DataError, match="labels look like ids"):
        load_examples(ids, "sentiment")
    assert [e.label for e in load_examples(ids, "sentiment", {"sentiment": ["negative", "positive"]})] == [
        "negative", "positive",
    ]  # fmt: skip


def test_a_sentiment_score_is_refused_with_what_to_do(tmp_path: Path) -> None:
    scores = tmp_path / "fiqa.csv"
    scores.write_text("text,label\nProfit soars,0.62\nShares sink,-0.4\n")
    with pytest.raises(DataError, match="a sentiment score\\? write each row's class"):
        load_examples(scores, "sentiment")

"""``finsentry simulate --headlines``: the simulator's stream in real headlines of the needed tone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from finsentry.app.realtext import COPY_MARKS, HeadlineError, read_headlines, rewrite_stream
from finsentry.app.simulate import simulate
from finsentry.cli import main

TONE_WORDS = {"negative": "slumps", "neutral": "holds", "positive": "soars"}


def headlines_file(path: Path, per_tone: int = 400, pairs: int = 60) -> Path:
    """Headlines whose last word gives their tone (written for the test), one or two companies."""
    lines = ["title,entities"]
    for tone, word in TONE_WORDS.items():
        for k in range(per_tone):
            name = f"Corpname{k}x{tone[:3]}"
            lines.append(f'"{name} report number {k} {word}","{{""{name}"": ""{tone}""}}"')
        for k in range(pairs):
            a, b = f"Firstco{k}{tone[:3]}", f"Secondco{k}{tone[:3]}"
            labels = f'{{""{a}"": ""{tone}"", ""{b}"": ""{tone}""}}'
            lines.append(f'"{a} and {b} deal {k} {word}","{labels}"')
    lines.append('"Unnamed headline","{""Nobody"": ""negative""}"')  # name not in the title
    lines.append('"Mixed Alpha and Beta","{""Alpha"": ""positive"", ""Beta"": ""negative""}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_headline_is_real_in_the_tone_it_needs_and_copies_stay_copies(tmp_path: Path) -> None:
    source = headlines_file(tmp_path / "heads.csv", per_tone=800)
    pools = read_headlines([source])
    assert {k: len(v) for k, v in pools.items()} == {
        (1, "negative"): 800, (1, "neutral"): 800, (1, "positive"): 800,
        (2, "negative"): 60, (2, "neutral"): 60, (2, "positive"): 60,
    }  # fmt: skip  (the unnamed and the mixed headline are left out)
    stream = tmp_path / "s.jsonl"
    result = simulate(stream, hours=12, seed=5, incidents=2, profile="hard")
    before = records(stream)
    truth_before = Path(f"{stream}.truth.json").read_text()
    assert rewrite_stream(stream, [source], seed=5) == 0
    after = records(stream)
    assert [r["id"] for r in after] == [r["id"] for r in before]  # same items, same order
    assert Path(f"{stream}.truth.json").read_text() == truth_before
    assert [r.get("tickers") for r in after] == [r.get("tickers") for r in before]
    assert all(r["body"] is None for r in after)
    incident_ids = {i for inc in result.incidents for i in inc.item_ids}
    negative = [r for r in after if r["id"] in incident_ids and "slumps" in str(r["headline"])]
    assert len(negative) >= len(incident_ids) // 2  # the cold start's items are all negative
    bases: dict[str, str] = {}
    for old, new in zip(before, after, strict=True):
        head = str(new["headline"])
        assert any(head.endswith(w) or w + " - sources" in head for w in TONE_WORDS.values())
        for prefix, suffix in COPY_MARKS:
            if (prefix and str(old["headline"]).startswith(prefix)) or (
                suffix and str(old["headline"]).endswith(suffix)
            ):
                assert head.startswith(prefix) and head.endswith(suffix)
                base = head[len(prefix) :] if prefix else head[: -len(suffix)]
                original = str(old["headline"])
                original = original[len(prefix) :] if prefix else original[: -len(suffix)]
                bases.setdefault(original, base)
                assert bases[original] == base  # a copy reads as its original's replacement
    assert "Corpname" not in " ".join(
        str(n["headline"]) for o, n in zip(before, after, strict=True) if o.get("tickers")
    )  # items about a company name it, not the file's company


def test_the_command_rewrites_and_says_what_a_file_lacks(tmp_path: Path) -> None:
    runner = CliRunner()
    source = headlines_file(tmp_path / "heads.csv", per_tone=30, pairs=0)
    out = tmp_path / "stream.jsonl"
    args = ["simulate", "--out", str(out), "--hours", "6", "--incidents", "1"]
    ran = runner.invoke(main, [*args, "--headlines", str(source)])
    assert ran.exit_code == 0, ran.output
    assert "ran out" in ran.output  # 6 hours of news from 90 headlines: some are reused
    assert all("report number" in str(r["headline"]) for r in records(out))
    hard_args = ["simulate", "--out", str(out), "--hours", "12", "--profile", "hard"]
    hard = runner.invoke(main, [*hard_args, "--incidents", "4", "--headlines", str(source)])
    assert hard.exit_code == 2 and "no headline naming two companies" in hard.output
    bad = tmp_path / "plain.csv"
    bad.write_text("text,label\nx,positive\n")
    with pytest.raises(HeadlineError, match="needs columns title and entities"):
        read_headlines([bad])

"""``finsentry scan``: the series detector over a CSV and over a scope's windows in the store."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from finsentry.app.scan import (
    benchmarked_config,
    learning_rows,
    read_csv_series,
    scan,
    scopes_series,
)
from finsentry.cli import main
from finsentry.schema import NewsItem, ScoredItem, TextScore
from finsentry.store import open_store
from finsentry.store.base import BatchWrite

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SIZES = (300, 3600)


def daily_csv(path: Path, spike_row: int, days: int = 4) -> list[datetime]:
    """5-minute rows with a daily rhythm and noise, one spike."""
    rng = np.random.default_rng(3)
    stamps = [T0 + timedelta(minutes=5 * k) for k in range(288 * days)]
    lines = ["timestamp,value"]
    for k, at in enumerate(stamps):
        value = 50 + 20 * math.sin(2 * math.pi * k / 288) + rng.normal(0, 2)
        value += 60 if k == spike_row else 0
        lines.append(f"{at:%Y-%m-%d %H:%M:%S},{value:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return stamps


def test_a_spike_in_a_daily_rhythm_is_listed_after_the_learning_period(tmp_path: Path) -> None:
    stamps = daily_csv(tmp_path / "metric.csv", spike_row=1700, days=7)
    result = CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / "metric.csv"), "--json"])
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.output.splitlines()]
    at = [f["at"] for f in found]
    assert stamps[1700].isoformat() in at
    spike = found[at.index(stamps[1700].isoformat())]
    assert spike["direction"] == "above" and spike["value"] > spike["median"] + 40
    assert len(found) <= 2  # one week of a noisy rhythm: the spike, and at most one new high
    assert min(at) >= stamps[576].isoformat()  # two days: the seasonal view's learning
    text = CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / "metric.csv")])
    assert "seasonal view over 288 rows a day" in text.output
    assert "nothing listed in the first 576 rows (learning)" in text.output
    assert f"{stamps[1700]:%Y-%m-%d %H:%M} UTC" in text.output
    assert f"{len(found)} anomalies" in text.output


def test_a_row_is_judged_on_the_rows_before_it_only(tmp_path: Path) -> None:
    stamps = daily_csv(tmp_path / "a.csv", spike_row=1300, days=6)
    t, x, _ = read_csv_series(tmp_path / "a.csv")
    config = benchmarked_config(t, len(x), history=learning_rows(len(x)))
    whole = scan(t, x, config)
    cut = scan(t[:1400], x[:1400], config)  # the same configuration, the future cut off
    assert [f.at for f in cut] == [f.at for f in whole if f.at <= stamps[1399]]
    assert stamps[1300] in [f.at for f in whole]


def item(n: int, at: datetime, negative: bool, ticker: str = "ACME") -> ScoredItem:
    news = NewsItem(f"n{n}", at, "wire", f"{ticker} story number {n}", tickers=(ticker,))
    score = TextScore(0.9, 0.05, 0.05, "Company | News", 0.5) if negative else TextScore(
        0.05, 0.9, 0.05, "Company | News", 0.5
    )
    return ScoredItem(news, score, "test@1", (ticker,))


def test_a_burst_of_a_ticker_in_the_store_is_found_with_the_stored_count(tmp_path: Path) -> None:
    db = str(tmp_path / "scan.db")
    store = open_store(db)
    items = [item(n, T0 + timedelta(minutes=30 * n), n % 4 == 0) for n in range(3 * 48)]
    burst_at = T0 + timedelta(days=2, hours=10, minutes=10)  # a window of the burst alone
    items += [item(1000 + k, burst_at + timedelta(seconds=20 * k), True) for k in range(12)]
    items += [item(2000 + n, burst_at + timedelta(hours=1, minutes=30 * n), False) for n in range(40)]
    items += [item(3000 + n, T0 + timedelta(minutes=30 * n + 7), False, "BETA") for n in range(200)]
    store.write_batch(BatchWrite(items, [], SIZES))
    try:
        found = scopes_series(store, ("ticker", "ACME"), "count", 300, T0, burst_at + timedelta(hours=20))
        t, x, missing, counts = found["ACME"]
        assert list(found) == ["ACME"] and (counts == x).all()
        assert missing == 0 and len(t) == len(x)
        assert x[t.tolist().index(np.datetime64(burst_at.replace(tzinfo=None), "s"))] == 12
        _, share, empty, _ = scopes_series(store, ("ticker", "ACME"), "negative_share", 300, T0, burst_at)["ACME"]
        assert empty > 0 and not np.isnan(share).any()  # windows without items carry the share before
        stored = store.window_stats(300, burst_at, burst_at + timedelta(seconds=300))
    finally:
        store.close()
    env = {"FINSENTRY_DB": db, "FINSENTRY_WINDOW_SIZES_S": "300,3600", "FINSENTRY_DETECT_WINDOW_S": "300"}
    result = CliRunner().invoke(main, ["scan", "--scope", "ticker:acme", "--json"], env=env)
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.output.splitlines()]
    assert burst_at.isoformat() in [f["at"] for f in found]
    at_burst = next(f for f in found if f["at"] == burst_at.isoformat())
    acme = [s for s in stored if s.scope_value == "ACME"]
    assert at_burst["value"] == acme[0].count == 12  # the number shown is the store's


def test_unusable_requests_say_what_to_do(tmp_path: Path) -> None:
    runner = CliRunner()
    both = runner.invoke(main, ["scan"])
    assert both.exit_code == 2 and "give one of --scope" in both.output
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,value\nyesterday,1\n")
    bad = runner.invoke(main, ["scan", "--csv", str(empty)])
    assert bad.exit_code == 2 and "no rows with a timestamp and a number" in bad.output
    db = str(tmp_path / "none.db")
    open_store(db).close()
    env = {"FINSENTRY_DB": db, "FINSENTRY_WINDOW_SIZES_S": "300,3600"}
    size = runner.invoke(main, ["scan", "--scope", "all", "--window-s", "60"], env=env)
    assert size.exit_code == 2 and "keeps windows of 300, 3600 s" in size.output
    nothing = runner.invoke(main, ["scan", "--scope", "all", "--window-s", "300"], env=env)
    assert nothing.exit_code == 2 and "holds no items yet" in nothing.output


def test_every_ticker_is_scanned_and_only_those_with_anomalies_are_shown(tmp_path: Path) -> None:
    db = str(tmp_path / "all.db")
    store = open_store(db)
    burst_at = T0 + timedelta(days=2, hours=10, minutes=10)
    items = [item(n, T0 + timedelta(minutes=30 * n), False) for n in range(200)]
    items += [item(1000 + k, burst_at + timedelta(seconds=20 * k), True) for k in range(12)]
    items += [item(3000 + n, T0 + timedelta(minutes=30 * n + 7), False, "BETA") for n in range(200)]
    store.write_batch(BatchWrite(items, [], SIZES))
    store.close()
    env = {"FINSENTRY_DB": db, "FINSENTRY_WINDOW_SIZES_S": "300,3600", "FINSENTRY_DETECT_WINDOW_S": "300"}
    runner = CliRunner()
    as_json = runner.invoke(main, ["scan", "--scope", "ticker:*", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    found = [json.loads(line) for line in as_json.output.splitlines()]
    assert {f["series"] for f in found} == {"ticker:ACME count"}
    assert burst_at.isoformat() in [f["at"] for f in found]
    text = runner.invoke(main, ["scan", "--scope", "ticker:*"], env=env)
    assert "ticker:ACME count:" in text.output and "ticker:BETA" not in text.output
    assert "(the rows before barely vary: robust z beyond 1000)" in text.output  # 0 or 1 an item
    few = runner.invoke(main, ["scan", "--scope", "ticker:*", "--json", "--min-items", "13"], env=env)
    assert few.exit_code == 0 and few.output == ""  # the burst holds 12 items
    assert text.output.rstrip().endswith(f"{len(found)} anomalies in 2 scopes")
    unknown = runner.invoke(main, ["scan", "--scope", "ticker:NOPE"], env=env)
    assert unknown.exit_code == 2 and "no windows of 300 s" in unknown.output


def test_unix_times_read_as_the_same_moments(tmp_path: Path) -> None:
    stamps = daily_csv(tmp_path / "iso.csv", spike_row=1300, days=6)
    rows = (tmp_path / "iso.csv").read_text().splitlines()[1:]
    for name, scale in (("seconds.csv", 1), ("millis.csv", 1000)):
        lines = ["timestamp,value"]
        for at, row in zip(stamps, rows, strict=True):
            lines.append(f"{int(at.timestamp()) * scale},{row.split(',')[1]}")
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    outputs = [
        CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / name), "--json"])
        for name in ("iso.csv", "seconds.csv", "millis.csv")
    ]
    assert all(out.exit_code == 0 for out in outputs), [out.output for out in outputs]
    found = [[json.loads(line)["at"] for line in out.output.splitlines()] for out in outputs]
    assert stamps[1300].isoformat() in found[0]
    assert found[0] == found[1] == found[2]


def test_row_numbers_as_timestamps_are_given_back_as_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    lines = ["timestamp,value,is_anomaly"]  # the layout of Yahoo's S5 A1 files
    for k in range(1, 1201):
        lines.append(f"{k},{100 + rng.normal(0, 3) + (80 if k == 1000 else 0):.3f},{int(k == 1000)}")
    (tmp_path / "real_1.csv").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / "real_1.csv"), "--json"])
    assert result.exit_code == 0, result.output
    found = [json.loads(line) for line in result.output.splitlines()]
    assert 1000 in [f["position"] for f in found] and all("at" not in f for f in found)
    text = CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / "real_1.csv")]).output
    assert "1200 rows, numbered 1 to 1200" in text and "no seasonal view" in text
    assert "row 1000  value" in text and "1970" not in text


def test_the_columns_of_a_price_file_can_be_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    lines = ["Date,Open,High,Low,Close,Volume"]
    for k in range(400):
        day = (datetime(2024, 1, 1) + timedelta(days=k)).date()
        close = 100 + rng.normal(0, 1) + (30 if k == 300 else 0)
        lines.append(f"{day},{100 + rng.normal(0, 1):.2f},0,0,{close:.2f},1000")
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    args = ["scan", "--csv", str(tmp_path / "prices.csv"), "--json"]
    found = CliRunner().invoke(main, [*args, "--time-column", "date", "--value-column", "Close"])
    assert found.exit_code == 0, found.output
    at = [json.loads(line)["at"] for line in found.output.splitlines()]
    assert "2024-10-27T00:00:00+00:00" in at  # day 300's close
    opens = CliRunner().invoke(main, args)  # the second column, Open: no jump there
    assert "2024-10-27T00:00:00+00:00" not in opens.output
    wrong = CliRunner().invoke(main, [*args, "--value-column", "Adj Close"])
    assert wrong.exit_code == 2 and "no column 'Adj Close'" in wrong.output
    assert "date, open, high, low, close, volume" in wrong.output
    scope = CliRunner().invoke(main, ["scan", "--scope", "all", "--value-column", "Close"])
    assert scope.exit_code == 2 and "name columns of a --csv file" in scope.output


def test_a_file_of_values_alone_is_numbered_and_scanned_as_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    values = [100 + rng.normal(0, 3) + (80 if k == 1000 else 0) for k in range(1, 1201)]
    values[500] = math.nan
    written = [f"{v:.3f}" for v in values]
    layouts = {  # the UCR anomaly archive's layouts: a value a line, or all on one line
        "column.txt": "\n".join(written) + "\n",
        "header.csv": "value\n" + "\n".join(written) + "\n",
        "one_line.txt": "  ".join(written) + "\n",
    }
    positions = []
    for name, text in layouts.items():
        (tmp_path / name).write_text(text)
        result = CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / name), "--json"])
        assert result.exit_code == 0, result.output
        positions.append([json.loads(line)["position"] for line in result.output.splitlines()])
    assert 1000 in positions[0] and positions[0] == positions[1] == positions[2]
    _, read, missing = read_csv_series(tmp_path / "column.txt")
    assert len(read) == 1200 and missing == 1 and read[500] == read[499]
    # a word among the numbers: not a file of values (and no timestamps either)
    (tmp_path / "words.txt").write_text("\n".join([*written[:50], "oops", *written[50:]]) + "\n")
    refused = CliRunner().invoke(main, ["scan", "--csv", str(tmp_path / "words.txt")])
    assert refused.exit_code == 2 and "values alone, one per line" in refused.output


def test_listed_rows_are_checked_against_a_label_column(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from finsentry.app.scan import label_agreement
    from finsentry.cli.scan import scan as scan_command

    # stretches at rows 3-4 and 10; listed rows 5 (near the first), 20 (near none)
    labels = np.zeros(30, dtype=np.int64)
    labels[[3, 4, 10]] = 1
    found = label_agreement(labels, [5, 20], tolerance=1)
    assert (found.stretches, found.found, found.others) == (2, 1, 1)
    assert label_agreement(labels, [5, 20], tolerance=0).found == 0

    rng = np.random.default_rng(4)
    values = 10 + rng.normal(0, 0.5, 1200)
    values[[700, 1000]] += 12
    rows = ["timestamp,value,is_anomaly"] + [
        f"{i + 1},{v:.4f},{int(i in (700, 1000))}" for i, v in enumerate(values)
    ]
    data = tmp_path / "yahoo_a1.csv"
    data.write_text("\n".join(rows) + "\n")
    out = CliRunner().invoke(scan_command, ["--csv", str(data), "--label-column", "is_anomaly"])
    assert out.exit_code == 0, out.output
    assert "labels: 2 of 2 labelled stretches listed (within 5 rows)" in out.output
    listed = CliRunner().invoke(
        scan_command, ["--csv", str(data), "--label-column", "is_anomaly", "--json"]
    )
    summary = json.loads(listed.output.strip().splitlines()[-1])
    assert summary["labels"]["found"] == 2 and summary["labels"]["labelled_stretches"] == 2
    missing = CliRunner().invoke(scan_command, ["--csv", str(data), "--label-column", "truth"])
    assert missing.exit_code == 2 and "has no column 'truth'" in missing.output

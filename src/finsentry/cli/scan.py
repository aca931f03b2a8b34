"""``finsentry scan``: anomalies in a scope's history or in any CSV series (the NAB detector)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from finsentry.cli.common import db_option, open_for_reading, settings_from

# days a series must span for the same-time-of-day view: two to learn the rhythm, two to judge
SEASONAL_CYCLES = 4

if TYPE_CHECKING:
    import numpy as np

    from finsentry.app.scan import Finding
    from finsentry.detectors.series import SeriesConfig

    # timestamps, values, values carried forward, rows that may be listed (None: all)
    Series = tuple[np.ndarray, np.ndarray, int, np.ndarray | None]


@click.command()
@click.option(
    "--scope",
    "scope_text",
    metavar="KIND:VALUE",
    envvar="FINSENTRY_SCAN_SCOPE",
    show_envvar=True,
    help="A scope of the store: all, ticker:AAPL, topic:NAME or source:NAME; ticker:* (or "
    "topic:*, source:*) scans every one that has windows in the stretch.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="FINSENTRY_SCAN_CSV",
    show_envvar=True,
    help="Instead of a scope: a CSV of timestamp,value rows (a price, a metric, a NAB file).",
)
@click.option(
    "--time-column", metavar="NAME", help="With --csv: the column of times [default: timestamp, "
    "else the first].",
)  # fmt: skip
@click.option(
    "--value-column", metavar="NAME", help="With --csv: the column of values, e.g. Close "
    "[default: value, else the second].",
)  # fmt: skip
@click.option(
    "--label-column", metavar="NAME", help="With --csv: a column marking anomalous rows (1/0, as "
    "is_anomaly); the listed rows are then checked against it.",
)  # fmt: skip
@click.option(
    "--label-tolerance", type=click.IntRange(min=0), default=5, show_default=True,
    help="With --label-column: how many rows from a labelled stretch a listed row may be.",
)  # fmt: skip
@click.option(
    "--metric",
    type=click.Choice(["count", "negative_share", "mean_score"]),
    default="count",
    show_default=True,
    envvar="FINSENTRY_SCAN_METRIC",
    show_envvar=True,
    help="With --scope: novel items per window, their negative share, or their mean score.",
)
@db_option
@click.option(
    "--window-s",
    type=click.IntRange(min=1),
    envvar="FINSENTRY_SCAN_WINDOW_S",
    show_envvar=True,
    help="With --scope: window size in seconds, one the store keeps [default: the detectors'].",
)
@click.option(
    "--since",
    envvar="FINSENTRY_SCAN_SINCE",
    show_envvar=True,
    help="With --scope: from this ISO time (with offset), or this long before the store's last "
    "item (7d) [default: the store's first item].",
)
@click.option(
    "--history",
    type=click.IntRange(min=10),
    envvar="FINSENTRY_SCAN_HISTORY",
    show_envvar=True,
    help="Rows of the trailing baseline [default: 15% of the rows, within 50-750].",
)
@click.option(
    "--min-z",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    envvar="FINSENTRY_SCAN_MIN_Z",
    show_envvar=True,
    help="Least robust z of a flagged value (or its jump); 4 lists only large moves.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=0.8,
    show_default=True,
    envvar="FINSENTRY_SCAN_THRESHOLD",
    show_envvar=True,
    help="Least detector score (0-1, a rank against the series' own past) that is listed.",
)
@click.option(
    "--min-items",
    type=click.IntRange(min=0),
    envvar="FINSENTRY_SCAN_MIN_ITEMS",
    show_envvar=True,
    help="With --scope: least novel items in a window for it to be listed [default: 6 for "
    "count, as the volume rule; 8 for a share or mean, as the tone rules].",
)
@click.option(
    "--no-seasonal",
    is_flag=True,
    help="Without the same-time-of-day view (on by default for rows with a daily period that "
    "span four days or more).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per anomaly.")
@click.pass_context
def scan(
    ctx: click.Context,
    scope_text: str | None,
    csv_path: Path | None,
    time_column: str | None,
    value_column: str | None,
    label_column: str | None,
    label_tolerance: int,
    metric: str,
    db: str | None,
    window_s: int | None,
    since: str | None,
    history: int | None,
    min_z: float,
    threshold: float,
    min_items: int | None,
    no_seasonal: bool,
    as_json: bool,
) -> None:
    """List the anomalies of a numeric series with the series detector measured on NAB.

    The series is a scope's windows in the store (--scope, with --metric) or a CSV file (--csv).
    Each row is judged against the rows before it only, so what is listed is what the detector
    would have flagged at the time. Examples:

    \b
      finsentry scan --scope ticker:AAPL --since 30d
      finsentry scan --scope 'ticker:*' --since 7d      # every ticker with news
      finsentry scan --scope all --metric negative_share --window-s 3600
      finsentry scan --csv latency.csv --json
    """

    if (scope_text is None) == (csv_path is None):
        raise click.UsageError(
            "give one of --scope KIND:VALUE (a scope of the store) or --csv FILE"
        )
    if csv_path is None and (time_column or value_column or label_column):
        raise click.UsageError(
            "--time-column, --value-column and --label-column name columns of a --csv file"
        )
    positions, labels = False, None
    if csv_path is not None:
        series, positions, labels = _csv(csv_path, time_column, value_column, label_column)
        named = {str(csv_path): series}
    else:
        assert scope_text is not None
        least = min_items if min_items is not None else _least_items(metric)
        named = _scopes(ctx, scope_text, metric, (db, window_s, since), least)
    several = len(named) > 1 or (scope_text or "").endswith(":*")
    shown = 0
    for name, series in named.items():
        config = _config(series, history, min_z, threshold, seasonal=not (no_seasonal or positions))
        what = name if csv_path is not None else f"{name} {metric}"
        found = _show(what, series, config, as_json, quiet_if_none=several, positions=positions)
        shown += len(found)
        if labels is not None:
            _against_labels(what, series[0], found, labels, label_tolerance, as_json)
    if several and not as_json:
        click.echo(f"{shown} anomalies in {len(named)} scopes")


def _config(
    series: Series, history: int | None, min_z: float, threshold: float, seasonal: bool
) -> SeriesConfig:
    """The benchmarked detector's configuration for this series (a usage error when unfit)."""
    from finsentry.app.scan import benchmarked_config

    try:
        return benchmarked_config(
            series[0], len(series[1]), history=history, min_z=min_z, threshold=threshold,
            seasonal=seasonal, min_cycles=SEASONAL_CYCLES,
        )  # fmt: skip
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _show(
    what: str,
    series: Series,
    config: SeriesConfig,
    as_json: bool,
    quiet_if_none: bool,
    positions: bool = False,
) -> list[Finding]:
    """Print one series' anomalies (nothing for a series without any, among several); returns
    them. ``positions``: the series' rows are numbered, not dated."""
    from finsentry.app.scan import describe_series, scan
    from finsentry.inert import for_terminal

    stamps, values, missing, eligible = series
    found = scan(stamps, values, config, eligible, positions)
    if as_json:
        for finding in found:
            click.echo(json.dumps({"series": what, **finding.to_json()}))
        return found
    if quiet_if_none and not found:
        return found
    click.echo(for_terminal(f"{what}: {describe_series(stamps, config, positions)}"))
    if missing:
        click.echo(f"{missing} rows without a value took the value before them")
    for f in found:
        where = f"row {f.position}" if f.position is not None else f"{f.at:%Y-%m-%d %H:%M} UTC"
        click.echo(
            f"{where}  value {f.value:g}  {f.direction} the median {f.median:g} "
            f"of the rows before ({_z_text(f.z)})  score {f.score:.3f}"
        )
    click.echo(f"{len(found)} anomalies")
    return found


def _against_labels(
    what: str, stamps: Any, found: list[Finding], labels: Any, tolerance: int, as_json: bool
) -> None:
    """How the listed rows meet the rows a label column marks anomalous."""
    import numpy as np

    from finsentry.app.scan import label_agreement

    times = [np.datetime64(f.at.astimezone(UTC).replace(tzinfo=None), "s") for f in found]
    rows = np.searchsorted(stamps, np.array(times, dtype="datetime64[s]")).tolist()
    agreement = label_agreement(labels, rows, tolerance)
    if as_json:
        click.echo(json.dumps({"series": what, "labels": agreement.to_json()}))
        return
    click.echo(
        f"labels: {agreement.found} of {agreement.stretches} labelled stretches listed (within "
        f"{tolerance} rows); {agreement.others} listed rows outside them"
    )


def _csv(
    path: Path, time_column: str | None, value_column: str | None, label_column: str | None
) -> tuple[Series, bool, Any]:
    """The file's series, whether its rows are numbered rather than dated, and its labels."""
    from finsentry.app.scan import read_csv

    try:
        found = read_csv(path, time_column, value_column, label_column)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not len(found.values) or found.missing == len(found.values):
        raise click.UsageError(
            f"{path}: no rows with a timestamp and a number (columns timestamp,value, e.g. "
            "2026-01-05 14:00:00,42; a Unix time or a row number also serves as timestamp; "
            "or values alone, one per line)"
        )
    return (found.timestamps, found.values, found.missing, None), found.positions, found.labels


def _scopes(
    ctx: click.Context,
    scope_text: str,
    metric: str,
    where: tuple[str | None, int | None, str | None],
    min_items: int,
) -> dict[str, Series]:
    """The scope's (or scopes') series, each window eligible to be listed when it holds
    ``min_items`` novel items or more."""
    from finsentry.app.scan import scopes_series
    from finsentry.cli.alerts import parse_scope, parse_since
    from finsentry.inert import redact_dsn

    db, window_s, since = where
    scope = parse_scope(scope_text)
    settings = settings_from(ctx, db=db)
    size = window_s or settings.detect_window_s
    if size not in settings.window_sizes_s:
        kept = ", ".join(str(s) for s in settings.window_sizes_s)
        raise click.UsageError(f"--window-s {size}: the store keeps windows of {kept} s")
    store = open_for_reading(settings.db)
    try:
        first, last = store.time_range()
        if first is None or last is None:
            raise click.UsageError(f"the store {redact_dsn(settings.db)} holds no items yet")
        start: datetime = parse_since(since, last) if since else first
        found = scopes_series(store, scope, metric, size, max(start, first), last)
    finally:
        store.close()
    if not found and scope[1] == "*":
        raise click.UsageError(f"no {scope[0]} has windows of {size} s in that stretch")
    if not found:
        raise click.UsageError(
            f"{scope_text}: no windows of {size} s in that stretch (check the name: "
            "finsentry alerts and the dashboards show the scopes the store holds)"
        )
    label = f"{scope[0]}:{{}}" if scope[0] != "all" else "all"
    return {
        label.format(name): (t, x, missing, counts >= min_items)
        for name, (t, x, missing, counts) in found.items()
    }


def _least_items(metric: str) -> int:
    """The live rules' floors: a volume alert's ``min_items``, a share's ``min_support``."""
    from finsentry.detectors.base import DetectorConfig

    defaults = DetectorConfig()
    return defaults.min_items if metric == "count" else defaults.min_support


def _z_text(z: float) -> str:
    if abs(z) < 1000:
        return f"robust z {z:+.1f}"
    return "the rows before barely vary: robust z beyond 1000"

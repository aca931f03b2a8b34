"""finsentry's Grafana dashboards, as code: overview (:mod:`.overview`), ticker drill-down
(:mod:`.ticker`) and pipeline health (:mod:`.health`), and the JSON files written from them.

Every query is SQL for Grafana's PostgreSQL data source and uses its macros (``$__timeFilter``,
``$__timeGroupAlias``, ``$__timeFrom()`` ...) over the tables described in
:mod:`finsentry.store.base`. Tone and volume come from ``window_stats`` at one window size (the
detectors' window by default): sums and counts there merge additively, so grouping windows into
Grafana's ``$__interval`` gives exact means. Template variables (``$topic``, ``$source``,
``$ticker``: multi-select with "All") enter SQL only through Grafana's ``sqlstring`` escaping
(:func:`finsentry.grafana.panels.any_of`). ``finsentry grafana generate`` writes the JSON files
under ``dashboards/`` (and the UI-import flavour under ``dashboards/import/``); a test fails when
the checked-in files differ from this module's output.
"""

from __future__ import annotations

import json
from pathlib import Path

from finsentry.grafana.health import health
from finsentry.grafana.model import Dashboard
from finsentry.grafana.overview import overview
from finsentry.grafana.panels import HEALTH_UID, OVERVIEW_UID, TICKER_UID
from finsentry.grafana.ticker import ticker

__all__ = [
    "HEALTH_UID", "OVERVIEW_UID", "TICKER_UID", "all_dashboards", "file_name", "health",
    "overview", "render", "ticker", "write_dashboards",
]  # fmt: skip

IMPORT_DIR = "import"


def all_dashboards(window_s: int = 300) -> list[Dashboard]:
    return [overview(window_s), ticker(window_s), health()]


def render(dashboard: Dashboard, for_import: bool = False) -> str:
    """The dashboard's JSON text as written to disk (stable, so the staleness test can compare)."""
    model = dashboard.to_json(for_import=for_import)
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def file_name(dashboard: Dashboard, for_import: bool = False) -> str:
    name = dashboard.uid.removeprefix("finsentry-") + ".json"
    return f"{IMPORT_DIR}/{name}" if for_import else name


def write_dashboards(out_dir: Path, window_s: int = 300) -> list[Path]:
    """Write every dashboard as ``<name>.json`` (file and API provisioning) and
    ``import/<name>.json`` (UI import, with ``__inputs``) into ``out_dir``."""
    paths = []
    for dashboard in all_dashboards(window_s):
        for for_import in (False, True):
            path = out_dir / file_name(dashboard, for_import)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(dashboard, for_import), encoding="utf-8")
            paths.append(path)
    return paths

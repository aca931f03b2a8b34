"""``finsentry grafana``: generate the dashboards as code, provision a Grafana server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from finsentry.cli.common import db_option, setting_option, settings_from


@click.group()
def grafana() -> None:
    """Grafana dashboards over the PostgreSQL store: overview, ticker drill-down, pipeline health."""


@grafana.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dashboards"),
    show_default=True,
    envvar="FINSENTRY_GRAFANA_DASHBOARDS_DIR",
    show_envvar=True,
    help="Directory for the dashboard JSON files.",
)
@setting_option(
    "--window-s",
    field="detect_window_s",
    type=int,
    help="Window size (seconds) of window_stats the panels read [default: 300].",
)
@click.option(
    "--check",
    is_flag=True,
    envvar="FINSENTRY_GRAFANA_CHECK",
    show_envvar=True,
    help="Write nothing; exit 1 if the files differ from what would be generated.",
)
@click.pass_context
def generate(ctx: click.Context, out: Path, detect_window_s: int | None, check: bool) -> None:
    """Write the dashboards as JSON (Grafana's dashboard model, PostgreSQL data source by uid)."""
    from finsentry.grafana.dashboards import all_dashboards, file_name, render, write_dashboards

    window_s = settings_from(ctx, detect_window_s=detect_window_s).detect_window_s
    if check:
        stale = [
            file_name(d)
            for d in all_dashboards(window_s)
            if not (out / file_name(d)).exists()
            or (out / file_name(d)).read_text(encoding="utf-8") != render(d)
        ]
        if stale:
            raise click.ClickException(
                f"stale dashboards in {out}: {', '.join(stale)}; run: finsentry grafana generate"
            )
        click.echo(f"dashboards in {out} are up to date")
        return
    for path in write_dashboards(out, window_s):
        click.echo(f"wrote {path}")


@grafana.command()
@setting_option("--url", field="grafana_url", metavar="URL")
@setting_option("--token", field="grafana_token", metavar="TOKEN")
@db_option
@click.option(
    "--datasource-dsn",
    envvar="FINSENTRY_GRAFANA_DATASOURCE_DSN",
    show_envvar=True,
    metavar="DSN",
    help="PostgreSQL DSN as Grafana reaches the store [default: --db].",
)
@click.option(
    "--folder",
    default="finsentry",
    show_default=True,
    envvar="FINSENTRY_GRAFANA_FOLDER",
    show_envvar=True,
    help="Folder uid and title for the dashboards.",
)
@click.option(
    "--alerts-days",
    type=float,
    default=30.0,
    show_default=True,
    envvar="FINSENTRY_GRAFANA_ALERTS_DAYS",
    show_envvar=True,
    help="Post the alerts of the last N days as annotations (0: none).",
)
@click.option(
    "--force",
    is_flag=True,
    envvar="FINSENTRY_GRAFANA_FORCE",
    show_envvar=True,
    help="Re-send the data source (e.g. after a password change).",
)
@click.pass_context
def provision(
    ctx: click.Context,
    grafana_url: str | None,
    grafana_token: str | None,
    db: str | None,
    datasource_dsn: str | None,
    folder: str,
    alerts_days: float,
    force: bool,
) -> None:
    """Create or update the data source, folder, dashboards and alert annotations in Grafana.

    Re-running changes nothing. The token is a Grafana service-account token with the Admin role
    (or put user:password into the URL).
    """
    from finsentry.grafana.dashboards import all_dashboards
    from finsentry.grafana.provision import ProvisionError, connect
    from finsentry.grafana.provision import provision as run_provision
    from finsentry.schema import utc_now
    from finsentry.store import open_store

    settings = settings_from(ctx, db=db, grafana_url=grafana_url)
    if not settings.grafana_url:
        raise click.UsageError("give the Grafana URL: --url or FINSENTRY_GRAFANA_URL")
    # the token stays out of Settings overrides (they are not re-validated into a SecretStr)
    token = grafana_token or (
        settings.grafana_token.get_secret_value() if settings.grafana_token else None
    )
    alerts = []
    if alerts_days > 0:
        store = open_store(settings.db)
        try:
            alerts = store.alerts(since=utc_now() - timedelta(days=alerts_days))
        finally:
            store.close()
    try:
        api = connect(settings.grafana_url, token)
        result = run_provision(
            api,
            datasource_dsn=datasource_dsn or settings.db,
            dashboards=all_dashboards(settings.detect_window_s),
            alerts=alerts,
            folder_uid=folder,
            folder_title=folder,
            force=force,
        )
    except ProvisionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.summary())
    if not result.changed:
        click.echo("nothing to change")

"""``finsentry grafana``: generate the dashboards as code, provision a Grafana server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from finsentry.cli.common import db_option, open_for_reading, setting_option, settings_from


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
    "--alerting-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("infra/grafana/provisioning/alerting/finsentry.yaml"),
    show_default=True,
    envvar="FINSENTRY_GRAFANA_ALERTING_FILE",
    show_envvar=True,
    help="File-provisioning YAML of the pipeline-health alert rules and contact point.",
)
@click.option(
    "--check",
    is_flag=True,
    envvar="FINSENTRY_GRAFANA_CHECK",
    show_envvar=True,
    help="Write nothing; exit 1 if the files differ from what would be generated.",
)
@click.pass_context
def generate(
    ctx: click.Context, out: Path, detect_window_s: int | None, alerting_file: Path, check: bool
) -> None:
    """Write the dashboards as JSON (Grafana's dashboard model): <name>.json for file and API
    provisioning (data source uid finsentry-postgres), import/<name>.json for the UI's import
    (asks for the data source), and the alert rules' provisioning YAML."""
    from finsentry.grafana.alerting import provisioning_yaml
    from finsentry.grafana.dashboards import all_dashboards, file_name, render, write_dashboards
    from finsentry.grafana.health import health

    window_s = settings_from(ctx, detect_window_s=detect_window_s).detect_window_s
    alerting_text = provisioning_yaml(panel_ids=health().panel_ids())
    if check:
        wanted = {
            out / file_name(d, for_import): render(d, for_import)
            for d in all_dashboards(window_s)
            for for_import in (False, True)
        }
        wanted[alerting_file] = alerting_text
        stale = [
            str(path)
            for path, content in wanted.items()
            if not path.exists() or path.read_text(encoding="utf-8") != content
        ]
        if stale:
            raise click.ClickException(
                f"stale files: {', '.join(stale)}; run: finsentry grafana generate"
            )
        click.echo(f"dashboards in {out} and {alerting_file} are up to date")
        return
    for path in write_dashboards(out, window_s):
        click.echo(f"wrote {path}")
    alerting_file.parent.mkdir(parents=True, exist_ok=True)
    alerting_file.write_text(alerting_text, encoding="utf-8")
    click.echo(f"wrote {alerting_file}")


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
    "--alert-emails",
    envvar="FINSENTRY_GRAFANA_ALERT_EMAILS",
    show_envvar=True,
    metavar="ADDRESSES",
    help="Recipients of the pipeline-health alerts, comma separated: the 'finsentry' contact"
    " point [default: FINSENTRY_MAIL_TO; none: the organisation's notification policies].",
)
@click.option(
    "--alert-rules/--no-alert-rules",
    default=True,
    show_default=True,
    envvar="FINSENTRY_GRAFANA_ALERT_RULES",
    show_envvar=True,
    help="Provision the pipeline-health alert rules.",
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
    alert_emails: str | None,
    alert_rules: bool,
    force: bool,
) -> None:
    """Create or update the data source, folder, dashboards, pipeline-health alert rules and
    their contact point, and the alert annotations in Grafana.

    Re-running changes nothing. The token is a Grafana service-account token with the Admin role
    (or put user:password into the URL).
    """
    from finsentry.grafana.dashboards import all_dashboards
    from finsentry.grafana.provision import ProvisionError, connect
    from finsentry.grafana.provision import provision as run_provision
    from finsentry.schema import utc_now

    settings = settings_from(ctx, db=db, grafana_url=grafana_url)
    if not settings.grafana_url:
        raise click.UsageError("give the Grafana URL: --url or FINSENTRY_GRAFANA_URL")
    # the token stays out of Settings overrides (they are not re-validated into a SecretStr)
    token = grafana_token or (
        settings.grafana_token.get_secret_value() if settings.grafana_token else None
    )
    alerts = []
    if alerts_days > 0:
        store = open_for_reading(settings.db)
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
            alert_emails=[a.strip() for a in alert_emails.split(",") if a.strip()]
            if alert_emails is not None
            else list(settings.mail_to),
            alert_rules=alert_rules,
        )
    except ProvisionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.summary())
    if not result.changed:
        click.echo("nothing to change")

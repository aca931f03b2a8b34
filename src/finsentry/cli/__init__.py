"""The ``finsentry`` command: one click group; each area's commands live in their own module.

Sub-commands are imported lazily so ``finsentry --help`` and light commands start fast and never
load torch unless they score.
"""

from __future__ import annotations

import importlib
import logging

import click

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "demo": "finsentry.cli.pipeline:demo",
    "ingest": "finsentry.cli.pipeline:ingest",
    "pull": "finsentry.cli.pull:pull",
    "simulate": "finsentry.cli.simulate:simulate",
    "score": "finsentry.cli.score:score",
    "train": "finsentry.cli.train:train",
    "train-lexical": "finsentry.cli.models:train_lexical",
    "evaluate": "finsentry.cli.models:evaluate",
    "calibrate": "finsentry.cli.models:calibrate",
    "export-onnx": "finsentry.cli.models:export_onnx",
    "alerts": "finsentry.cli.alerts:alerts",
    "mute": "finsentry.cli.silence:add",  # alias of `silence add`
    "silence": "finsentry.cli.silence:silence",
    "backtest": "finsentry.cli.alerts:backtest",
    "outbox": "finsentry.cli.outbox:outbox",
    "deliver": "finsentry.cli.deliver:deliver",
    "consume": "finsentry.cli.kafka:consume",
    "publish": "finsentry.cli.kafka:publish",
    "db": "finsentry.cli.db:db",
    "dead-letters": "finsentry.cli.deadletters:dead_letters",
    "grafana": "finsentry.cli.grafana:grafana",
    "report": "finsentry.cli.report:report",
    "scan": "finsentry.cli.scan:scan",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("finsentry"):
                raise click.ClickException(
                    f"'finsentry {cmd_name}' is not available in this build ({exc.name} missing)"
                ) from exc
            raise click.ClickException(
                f"'finsentry {cmd_name}' needs the Python package '{exc.name}': "
                "install finsentry with its extras, e.g. pip install 'finsentry[all]'"
            ) from exc
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        from finsentry.scoring.loader import BackendError
        from finsentry.scoring.modeldir import ModelNotFoundError

        try:
            return super().invoke(ctx)
        except (ModelNotFoundError, BackendError) as exc:  # a mistyped path, a missing backend
            raise click.ClickException(str(exc)) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    envvar="FINSENTRY_CONFIG",
    show_envvar=True,
    help="TOML settings file (keys are the FINSENTRY_* names without the prefix).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="finsentry")
@click.pass_context
def main(ctx: click.Context, config: str | None, verbose: int) -> None:
    """finsentry: streaming sentiment monitoring for financial news.

    News from files, Kafka or feeds is validated, de-duplicated, tagged with tickers, scored for
    sentiment and topic by a transformer, aggregated into event-time windows and watched for
    bursts of volume and surges of negative tone, which raise alerts with their headlines.

    Every option can also be set in the environment (shown as env var in each command's help).
    Start with:  finsentry demo
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    from finsentry.cli.envcheck import check_environment

    check_environment(ctx)

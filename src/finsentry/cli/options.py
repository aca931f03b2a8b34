"""Shared pieces of the model commands' options: an option with its own environment variable,
and the training tasks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

ENV = "FINSENTRY_"


F = TypeVar("F", bound=Callable[..., Any])


def _opt(*decls: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    """A command option with its own environment variable (shown in --help)."""
    return click.option(*decls, envvar=f"{ENV}{env}", show_envvar=True, **kwargs)


# --------------------------------------------------------------------------------------- train
TASK_HELP = (
    "sentiment, topic, entity (sentiment towards each company a headline names), both "
    "(sentiment and topic) or all three. Tag text/label files with their task "
    "(--data sentiment=a.csv --data topic=b.csv) or give one file with a 'task' column; "
    "entity-level files (columns title and entities, as SEntFiN) give entity examples and, for "
    "sentiment, the headlines whose entities agree."
)
TASK_CHOICES = ["sentiment", "topic", "entity", "both", "all"]


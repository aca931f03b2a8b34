"""Shared pieces of the model commands' options: the training tasks (options with their own
environment variable are :func:`finsentry.cli.common.env_option`)."""

from __future__ import annotations

# --------------------------------------------------------------------------------------- train
TASK_HELP = (
    "sentiment, topic, entity (sentiment towards each company a headline names), both "
    "(sentiment and topic) or all three. Tag text/label files with their task "
    "(--data sentiment=a.csv --data topic=b.csv) or give one file with a 'task' column; "
    "entity-level files (columns title and entities, as SEntFiN) give entity examples and, for "
    "sentiment, the headlines whose entities agree."
)
TASK_CHOICES = ["sentiment", "topic", "entity", "both", "all"]


"""Untrusted text (headlines, URLs, ids, scope names) made inert for the place it is shown, and
secrets (webhook URLs, DSN passwords) kept out of what is printed and logged.

News is written by strangers. A headline can carry terminal escape sequences (clear the screen,
retitle the window), Unicode direction overrides that make text read backwards, Slack link markup
that pings a whole channel (``<!channel>``), or a ``javascript:`` URL. Each output escapes for its
own medium: :func:`for_terminal` for what the CLI prints, :func:`for_slack` for Slack mrkdwn, and
:func:`web_url` keeps only http(s) URLs (the HTML outputs escape with their template engine).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# C0 and C1 control characters, DEL, and the Unicode bidirectional controls (embeddings,
# overrides, isolates, marks) - none belongs in one line of terminal output.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
WEB_SCHEMES = ("http", "https")


def for_terminal(text: str) -> str:
    """``text`` with every control and bidi character removed (tabs and newlines become spaces)."""
    return _UNSAFE.sub(lambda m: " " if m.group() in "\t\n\r" else "", text)


def for_slack(text: str) -> str:
    """``text`` for Slack mrkdwn: ``&``, ``<`` and ``>`` escaped, so no markup, link or mention
    can be formed from it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def web_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL with a host and no control characters, else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname or _UNSAFE.search(url):
        return None
    return url


def redact_url(url: str) -> str:
    """A URL as logs and messages may show it: scheme and host only. Webhook URLs carry their
    secret in the path (Slack's ``/services/T../B../<token>``) or the query."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{port}/..." if parts.scheme else "<url>"


def redact_dsn(url: str) -> str:
    """A database URL or DSN without its password (``user:***@``, ``password=***``)."""
    url = re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^\s&]+", r"\1***", url)

"""Jinja2 templates of the messages finsentry sends (``finsentry/templates``), HTML and text.

HTML templates (``*.html.j2``) are autoescaped and their ``<style>`` is inlined into ``style``
attributes by css-inline, since many mail clients drop ``<style>``; remote stylesheets are never
fetched. Text templates (``*.txt.j2``) are not escaped: what they show of the news is cleaned of
control and bidi characters first (:func:`finsentry.inert.for_terminal`, the ``plain`` filter).
Undefined variables are errors, so a template cannot silently show an empty number.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import css_inline
import jinja2

from finsentry.alerts import humanize
from finsentry.inert import for_terminal


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The template environment (built once; templates are package data)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("finsentry", "templates"),
        autoescape=jinja2.select_autoescape(
            disabled_extensions=("txt.j2",), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["plain"] = for_terminal
    env.filters["number"] = humanize.number
    env.filters["percent"] = humanize.percent
    env.filters["tone"] = humanize.tone
    return env


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


def render_html(name: str, **context: Any) -> str:
    """Render the HTML template ``name`` and inline its CSS."""
    html = environment().get_template(name).render(**context)
    return str(_inliner().inline(html))


def render_text(name: str, **context: Any) -> str:
    """Render the text template ``name``."""
    return environment().get_template(name).render(**context)

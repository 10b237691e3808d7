"""The files a page is made of: our templates in ``viz/`` (installed as ``cotgraph.viz``) and the
vis-network script that ships inside the pyvis package. Everything is read from disk and inlined
(or, for a report, copied beside the pages); nothing is ever fetched from a network."""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import math
import re
from pathlib import Path
from typing import Any

import jinja2
import jinja2.utils
import markupsafe

VIS_NETWORK_VERSION = "9.1.2"
"""The vis-network build inlined into every page (the one pyvis ships)."""


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment over ``viz/``, autoescaping HTML: text reaches a page only escaped."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_read_viz),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def json_for_html(obj: Any) -> markupsafe.Markup:
    """``obj`` as JSON that is safe inside a ``<script>`` element (``<``, ``>``, ``&``, ``'``
    escaped, as Jinja's ``tojson`` does) and strict: NaN and infinities, which ``JSON.parse``
    rejects, become null."""
    return jinja2.utils.htmlsafe_json_dumps(obj, dumps=_strict_json)


def _strict_json(obj: Any, **kwargs: Any) -> str:
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:  # rare: only then walk the whole object
        return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _read_viz(name: str) -> str:
    return importlib.resources.files("cotgraph.viz").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def viz_file(name: str) -> str:
    """A JS or CSS file of ``viz/``, checked safe to inline in a ``<script>`` or ``<style>``."""
    return script_safe(_read_viz(name))


def vis_network_path() -> Path:
    """The minified vis-network script inside the installed pyvis package."""
    import pyvis

    path = Path(pyvis.__file__).parent / "lib" / f"vis-{VIS_NETWORK_VERSION}" / "vis-network.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: vis-network {VIS_NETWORK_VERSION} not found in the pyvis package")
    return path


@functools.cache
def vis_network_js() -> str:
    """vis-network, ready to inline: its source-map comment removed (no page refers to any other file)."""
    text = vis_network_path().read_text(encoding="utf-8")
    text = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)
    return script_safe(text)


def script_safe(code: str) -> str:
    """Code that cannot end the ``<script>``/``<style>`` element holding it early: ``</`` becomes
    ``<\\/`` (the same string to JS; CSS in viz/ has none) and ``<!--`` is refused."""
    if "<!--" in code:
        raise ValueError("inlined code must not contain '<!--'")
    return re.sub(r"</(?=script|style)", r"<\\/", code, flags=re.IGNORECASE)


def nonce_for(*parts: str) -> str:
    """The page's CSP nonce: a hash of its content, so a page is reproducible byte for byte and a
    payload inside the content cannot know the nonce it would need to run."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]

"""The catalog's web pages: browse, search and read about add-ons.

The pages hold no per-user content, so each (path, query string) is a cached document
(:mod:`marketplace.catalog.cache`): rendered once per catalog version, ``ETag`` and 304.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from marketplace.catalog.cache import Document, html_document, serve
from marketplace.context import broker
from marketplace.errors import NotFound, quoted
from marketplace.services.addon_assets import docs_html, logo_svg
from marketplace.services.catalog import catalog_facets, get_addon, search_addons

bp = Blueprint("catalog", __name__)


@bp.get("/")
@bp.get("/addons")
def index() -> Response:
    """Every add-on as a card, grouped by category; filtered by ?q=, ?region=, ?category=."""
    return serve(_index_document)


def _index_document() -> Document:
    query = request.args.get("q", "").strip()[:100]
    region = request.args.get("region", "").strip()[:32]
    category = request.args.get("category", "").strip()[:64]
    addons = search_addons(query, region, category)
    categories, regions = catalog_facets()
    grouped: dict[str, list[Any]] = {}
    for addon in addons:
        grouped.setdefault(addon.category, []).append(addon)
    return html_document(
        render_template(
            "catalog/index.html",
            grouped=dict(sorted(grouped.items())),
            count=len(addons),
            query=query,
            region=region,
            category=category,
            categories=categories,
            regions=regions,
        )
    )


@bp.get("/addons/<slug>")
def detail(slug: str) -> Response:
    """One add-on: description, features, plans, regions, CLI snippet and documentation."""
    return serve(lambda: _detail_document(slug))


def _detail_document(slug: str) -> Document:
    addon = get_addon(slug)
    adapter = broker().registry.get(slug)
    docs = Markup(docs_html(adapter)) if adapter else Markup("")  # noqa: S704 (escaped by markdown-it)
    return html_document(render_template("catalog/detail.html", addon=addon, docs=docs))


@bp.get("/addons/<slug>/logo.svg")
def logo(slug: str) -> Response:
    """The add-on's logo."""
    adapter = broker().registry.get(slug)
    svg = logo_svg(adapter) if adapter else None
    if svg is None:
        raise NotFound(f"No logo for {quoted(slug)}.")
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response

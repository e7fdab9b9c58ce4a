"""Every catalog and dashboard page: 200, valid HTML, a title, and no broken internal link."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import html5lib
import pytest

pytestmark = pytest.mark.backend

_LINK_ATTRIBUTES = (("a", "href"), ("link", "href"), ("script", "src"), ("img", "src"))


def _parse(html: str):
    """Parse strictly: html5lib raises on any parse error (bad nesting, stray tags, ...)."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)


def _internal_links(document, page_url: str) -> set[str]:
    links = set()
    for tag, attribute in _LINK_ATTRIBUTES:
        for element in document.iter(tag):
            target = element.get(attribute)
            if not target or target.startswith(("#", "mailto:")):
                continue
            url = urlsplit(urljoin(f"http://localhost{page_url}", target))
            if url.hostname == "localhost":
                links.add(url.path + (f"?{url.query}" if url.query else ""))
    return links


def test_every_page_is_valid_and_links_resolve(partner):
    body = partner.provision().get_json()
    assert partner.client.post("/sso/login", data=partner.sso_form(body["id"])).status_code == 302
    pages = ["/", "/addons", "/addons?q=postgres&region=us", f"/dashboard/{body['id']}"]
    pages += [f"/addons/{slug}" for slug in ("postgres", "rabbitmq")]
    seen: set[str] = set()
    to_check: set[str] = set()

    for path in pages:
        response = partner.client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        document = _parse(response.get_data(as_text=True))
        title = document.find(".//title")
        assert title is not None and title.text and title.text.strip(), f"{path} has no title"
        assert document.find(".//main") is not None, f"{path} has no main landmark"
        for image in document.iter("img"):
            assert image.get("alt") is not None, f"{path}: an image has no alt text"
        seen.add(path)
        to_check |= _internal_links(document, path)

    for link in sorted(to_check - seen):
        if link.startswith("/sso/") or link.endswith("/logout"):
            continue
        with partner.client.get(link, headers={"Accept": "text/html"}) as response:
            assert response.status_code == 200, f"broken internal link {link}"
    assert "/static/marketplace.css" in to_check and "/addons/postgres/logo.svg" in to_check


def test_error_pages_are_valid_html(client):
    for path, status in (("/no/such/page", 404), ("/addons/no-such-addon", 404)):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == status
        document = _parse(response.get_data(as_text=True))
        assert document.find(".//title").text.strip().startswith(str(status))


def test_pages_send_security_headers(partner):
    body = partner.provision().get_json()
    assert partner.client.post("/sso/login", data=partner.sso_form(body["id"])).status_code == 302
    html = {"Accept": "text/html"}
    paths = ("/", "/addons/postgres", "/no/such/page", f"/dashboard/{body['id']}")
    # the catalog pages twice: the second answer comes from the catalog's fast path
    for path in (*paths, "/", "/addons/postgres"):
        response = partner.client.get(path, headers=html)
        assert response.mimetype == "text/html", path
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ") if d}
        assert directives.get("frame-ancestors") == ["'none'"], path
        assert "'unsafe-inline'" not in directives.get("script-src", ["'unsafe-inline'"]), path
        assert directives.get("object-src") == ["'none'"], path
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        assert response.headers.get("Referrer-Policy") == "same-origin", path
    json_response = partner.client.get(f"/resources/{body['id']}")
    assert json_response.headers.get("X-Content-Type-Options") == "nosniff"
    logo = partner.client.get("/addons/postgres/logo.svg")
    assert logo.headers["Content-Security-Policy"].startswith("default-src 'none'")

"""The TKW Portal, emulated: a small static web UI over the emulator's own JSON APIs.

``GET /tkw/portal`` answers the page; ``GET /tkw/portal/{asset}`` its files (``static/``). No build
step and nothing from the network: vanilla HTML, CSS and JavaScript that call ``/tkw/reports``,
``/tkw/receiver-runs``, ``/tkw/receiver-suite`` and ``/tkw/state`` on the same origin.

Caching: the page is revalidated on every visit (``no-cache`` with an ``ETag``), and names its
assets with a content hash (``portal/portal.js?v=<hash>``), so an asset requested with the current
hash may be cached for a year; any other asset request is cached briefly. The page's
Content-Security-Policy allows nothing but this origin (plus ``blob:`` frames, which show the HTML
validation reports the page fetched).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from tkw.http import ApiRequest, ApiResponse
from tkw.reports import html as report_html

PORTAL_PATH = "/tkw/portal"
INDEX = "index.html"

# Every file the portal serves, with its content type: nothing else under static/ is reachable.
ASSETS: dict[str, str] = {
    "portal.css": "text/css; charset=utf-8",
    "portal.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
HTML = "text/html; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
REVALIDATE = "no-cache"


def _report_script_hash() -> str:
    """The validation reports' one inline script (they are shown in blob: frames, which inherit this CSP)."""
    return base64.b64encode(hashlib.sha256(report_html._SCRIPT.encode()).digest()).decode()


def content_security_policy() -> str:
    return (
        "default-src 'self'; "
        f"script-src 'self' 'sha256-{_report_script_hash()}'; "
        # The reports shown in frames carry their own inline <style>.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "frame-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    content_type: str
    body: str
    etag: str  # strong validator: '"<sha256 prefix>"'

    @property
    def version(self) -> str:
        return self.etag.strip('"')


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def _asset(name: str, content_type: str, body: str) -> Asset:
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return Asset(name=name, content_type=content_type, body=body, etag=f'"{digest}"')


@cache
def assets() -> dict[str, Asset]:
    """The static files, read once per Lambda environment."""
    return {name: _asset(name, content_type, _read(name)) for name, content_type in ASSETS.items()}


@cache
def index() -> Asset:
    """The page, its asset references versioned by content hash (``{{asset:portal.js}}`` placeholders)."""
    page = _read(INDEX)
    for name, found in assets().items():
        page = page.replace("{{asset:" + name + "}}", f"portal/{name}?v={found.version}")
    return _asset(INDEX, HTML, page)


def asset_name(request: ApiRequest) -> str | None:
    """The asset a request names (``None``: the page itself)."""
    found = request.path_params.get("asset")
    if found is not None:
        return found
    path = request.path.rstrip("/")
    if path.endswith(PORTAL_PATH):
        return None
    return path.rsplit("/", 1)[-1]


def _not_modified(request: ApiRequest, asset: Asset) -> bool:
    wanted = request.header("If-None-Match") or ""
    return any(tag.strip().removeprefix("W/") == asset.etag for tag in wanted.split(",")) or wanted.strip() == "*"


def _answer(request: ApiRequest, asset: Asset, cache_control: str, extra: dict[str, str]) -> ApiResponse:
    headers = {"Cache-Control": cache_control, "ETag": asset.etag, **SECURITY_HEADERS, **extra}
    if _not_modified(request, asset):
        return ApiResponse(304, None, content_type=asset.content_type, headers=headers)
    if request.method == "HEAD":
        return ApiResponse(200, None, content_type=asset.content_type, headers=headers)
    return ApiResponse(200, asset.body, content_type=asset.content_type, headers=headers)


def serve(request: ApiRequest) -> ApiResponse:
    """``GET /tkw/portal`` (the page) and ``GET /tkw/portal/{asset}`` (its files)."""
    name = asset_name(request)
    if name in (None, "", INDEX):
        if name is not None or request.path.endswith("/"):
            # /tkw/portal/ or /tkw/portal/index.html: the page's relative asset links need /tkw/portal.
            return ApiResponse(
                308, None, content_type="text/plain", headers={"Location": "../portal", "Cache-Control": SHORT}
            )
        page = index()
        frame = {"Content-Security-Policy": content_security_policy(), "X-Frame-Options": "DENY"}
        return _answer(request, page, REVALIDATE, frame)
    found = assets().get(name)
    if found is None:
        known = ", ".join(sorted(ASSETS))
        return ApiResponse(
            404,
            {"error": "not_found", "message": f"The portal has no file {name[:80]!r} (it serves {known})."},
            content_type="application/json",
            headers={"Cache-Control": "no-store", **SECURITY_HEADERS},
        )
    current = request.param("v") == found.version
    return _answer(request, found, IMMUTABLE if current else SHORT, {})

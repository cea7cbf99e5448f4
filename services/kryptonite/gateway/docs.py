"""``/docs``: Swagger UI served by the gateway itself (works offline, under the page CSP).

The assets (Swagger UI 5, which reads OpenAPI 3.1) come from the ``fastapi-offline``
package (pinned; only its static files are used); the page has no inline script:
``/static/swagger-init.js`` starts Swagger UI on ``/openapi.json``.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
ASSET_DIR = str(files("fastapi_offline") / "static")


def page(title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{escape(title)} · API</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{ASSETS}/favicon.png">
</head>
<body>
  <main id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></main>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>"""


def install(app: FastAPI) -> None:
    """Serve the Swagger UI assets and the ``/docs`` page (``FastAPI(docs_url=None)``)."""
    app.mount(ASSETS, StaticFiles(directory=ASSET_DIR), name="docs-assets")
    html = page(app.title, app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(html)

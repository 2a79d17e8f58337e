"""The web console at ``/console``: pages for the people who handle and supervise cases.

Served by the API app with the same tokens, roles and masking; rendered on the server
(Jinja2) with inline CSS and SVG, so it needs no CDN, no build step and no script.
"""

from .routes import console_router
from .session import new_secret

__all__ = ["console_router", "new_secret"]

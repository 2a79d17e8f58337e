"""kesu's HTTP API (FastAPI): ``create_app(kesu_factory, tokens)``; served by ``api_server.py``."""

from .app import create_app
from .auth import Principal, TokenTable

__all__ = ["Principal", "TokenTable", "create_app"]

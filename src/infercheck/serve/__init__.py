"""The bundled reference endpoint: a conformant OpenAI-style server with a tiny deterministic generator."""

from ._app import DEFAULT_MODEL, create_app
from ._faults import FAULTS, QUIRKS

__all__ = ["DEFAULT_MODEL", "FAULTS", "QUIRKS", "create_app"]

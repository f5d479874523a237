"""The bundled reference endpoint: a conformant OpenAI-style server with a tiny deterministic generator."""

from ._app import create_app
from ._endpoint import DEFAULT_MODEL
from ._faults import FAULTS, QUIRKS

__all__ = ["DEFAULT_MODEL", "FAULTS", "QUIRKS", "create_app"]

"""The checks: pure functions of (case, exchange, context) registered with a fixed id, title and severity
(``base``); ``catalog`` imports every check module, and no check module imports another (``common`` holds what
they share)."""

"""A result in Allure's terms, for ``infercheck run --allure`` and ``pytest --alluredir``: labels (severity; feature:
the API and route; story: the check) and attachments (the curl, and the request and response as sent and received,
the key never in them)."""

from __future__ import annotations

from collections.abc import Sequence

from ..checks.base import Outcome, Result
from ..wire.exchange import Exchange
from ..wire.redaction import redact, response_text

SEVERITY = {"critical": "critical", "high": "critical", "medium": "normal", "low": "minor"}


def label(result: Result, *, feature: str, exchange: Exchange | None = None, secrets: Sequence[str] = ()) -> None:
    """Label the running test with ``result`` and attach its evidence (a no-op without an Allure listener)."""
    import allure  # not at import: the plugin loads in every pytest session, Allure's labels matter in few

    allure.dynamic.severity(SEVERITY[result.severity])
    allure.dynamic.label("check", result.check)
    allure.dynamic.feature(feature)
    allure.dynamic.story(result.check)
    text = allure.attachment_type.TEXT
    if result.curl:
        allure.attach(result.curl, name="curl", attachment_type=text)
    if exchange is not None and exchange.sent and result.outcome is not Outcome.PASSED:
        allure.attach(exchange.request.text(), name="request", attachment_type=text)
        allure.attach(redact(response_text(exchange), list(secrets)), name="response", attachment_type=text)

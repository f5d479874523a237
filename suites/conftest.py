"""Hypothesis settings profiles for the property suites (``--hypothesis-profile`` / INFERCHECK_HYPOTHESIS_PROFILE).

``ci``: the default size, derandomized, so the same commit sends the same requests on every run.
``thorough``: ten times the generated requests, for a release gate or a nightly job.
"""

from hypothesis import settings

settings.register_profile("ci", max_examples=20, derandomize=True)
settings.register_profile("thorough", max_examples=200)

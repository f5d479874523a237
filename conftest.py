"""Kept thin on purpose: the work lives in the infercheck package and its pytest plugin."""

pytest_plugins = ["pytester"]  # the self-tests drive the suites through pytest's own harness

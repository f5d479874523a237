"""Running the checks against a target: the target (``target``), the one way a request is sent (``sending``: the gate,
the budgets and the breaker, confirmation alone), the cases (``runner``), the property suites (``explore`` and
``search``), and both together (``session``), for the pytest plugin and the Python API alike."""

"""The property suites' requests: a suite per route (``routes``), positive requests drawn from the positive schemas
(``positive``), negative ones with one violation of the contract (``negative``), drawn up front as synthetic cases
(``requests``), and the schema-guided edits that shrink a failing one (``shrink``). Sends nothing."""

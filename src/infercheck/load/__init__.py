"""``infercheck load``: the contract under load, on Locust. The workload (``workload``: the cases that may be
repeated, each answered alone first, and every check of a case over one answer), Locust's master and workers sending
it in a closed loop with every answer checked (``_locust``, started by ``distributed``), each step's figures
(``tally``), and the document a load writes (``document``)."""

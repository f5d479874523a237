"""``infercheck load``: the contract under load. The workload (``workload``: the cases that may be repeated, each
answered alone first), users sending it in a closed loop with every answer checked (``users``), each step's figures
(``tally``), and the document a run writes (``document``)."""

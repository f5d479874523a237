"""Whether the tests that ran imported every dependency pyproject.toml declares (the main ones and the test extra).

    python .ci/imported.py DIR

DIR holds what each test process imported (tests/conftest.py writes it when INFERCHECK_IMPORTED names DIR). CI's
lowest-versions step runs the tests but the slow ones, and this shows that those it ran still drive every declared
dependency at its lowest version. Exit 1, naming them, when some were never imported.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path


# dependencies the tests run as a command of their own rather than import: the command is their use
RUN_AS_COMMANDS = {"import-linter": "tests/test_architecture.py runs its lint-imports over the library and copies of it",
                   "locust": "tests/load/test_load.py runs infercheck load, whose master and workers are Locust "
                             "processes of their own",
                   "gevent": "the Locust master and workers of infercheck load patch with it, in processes of their "
                             "own (tests/load/test_load.py)"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(folder: str) -> int:
    # the main dependencies and the test extra; the docs extra is the site's, built at its lowest versions by CI
    declared = {canonical(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
                for requirement in importlib.metadata.requires("infercheck") or ()
                if re.search(r"""extra\s*==\s*["'](?!test["'])""", requirement) is None}
    files = list(Path(folder).glob("*.txt"))
    imported = {canonical(line) for path in files for line in path.read_text().split()}
    missing = sorted(declared - imported - set(RUN_AS_COMMANDS))
    if not files or missing:
        print(f"imported: the tests that ran never imported {', '.join(missing) or 'anything'}", file=sys.stderr)
        return 1
    print(f"imported: the {len(files)} test process(es) imported every declared dependency: "
          + ", ".join(sorted(declared - set(RUN_AS_COMMANDS))) + "; and "
          + "; ".join(f"{name} as a command ({how})" for name, how in RUN_AS_COMMANDS.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

"""`infercheck report`: a results document as a server's compatibility page, and bad input to it."""

from __future__ import annotations

import json

from ..support import infercheck


def test_a_run_becomes_a_page_with_a_row_per_check_and_the_evidence_of_each_failure(tmp_path):
    results, page = tmp_path / "results.json", tmp_path / "docs" / "server.md"
    proc = infercheck("run", "--fault", "n-ignored", "--fault", "extra-fields", "--max-examples", "2", "-k",
                      "not property", "--json", str(results))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    proc = infercheck("report", str(results), "--server", "reference", "--how", "with two faults",
                      "--markdown", str(page))
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    doc = json.loads(results.read_text())
    assert text.startswith("# reference against infercheck\n") and "with two faults" in text
    assert f"**NOT CONFORMANT: {doc['summary']['failed']} failed**" in text
    by_check = text.split("## By check")[1].split("\n## ")[0]
    rows = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[2:-1]]
            for line in by_check.splitlines() if line.startswith("| `")}
    assert rows["n-choices"][1] == "failed" and rows["status-code"][1] == "passed"
    assert rows["undocumented-fields"][1] == "deviation"  # the default profile allows vendors' extra fields
    for check in {r["check"] for r in doc["results"]}:
        counted = [r for r in doc["results"] if r["check"] == check]
        failed, deviation, passed, skipped = (int(n) for n in rows[check][2:])
        assert failed + deviation + passed + skipped == len(counted)
    failures = [r for r in doc["results"] if r["outcome"] == "failed"]
    assert text.count("\n### `") == len(failures) + doc["summary"]["deviations"]
    for failure in failures:  # each with its message and its curl
        assert failure["message"].splitlines()[0] in text and failure["curl"] in text
    assert "Allowed by `new-response-fields`" in text


def test_bad_results_are_a_clear_error(tmp_path):
    garbage, page = tmp_path / "garbage.json", tmp_path / "page.md"
    garbage.write_text("not json")
    proc = infercheck("report", str(garbage), "--server", "x", "--markdown", str(page))
    assert proc.returncode == 2 and "cannot read a results document" in proc.stderr and "Traceback" not in proc.stderr
    garbage.write_text('{"results": []}')
    proc = infercheck("report", str(garbage), "--server", "x", "--markdown", str(page))
    assert proc.returncode == 2 and "is not an infercheck results document" in proc.stderr
    assert not page.exists()

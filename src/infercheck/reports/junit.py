"""JUnit XML from the results (``infercheck run --junit``): one test case per (case, check), in the format CI
servers read (Jenkins' xunit plugin's junit-10.xsd, which GitLab and GitHub's test reporters read too).

That format has no properties on a test case, only on a suite: the run's facts (target, model, profile, seed,
verdict) and each check's severity (``severity.<check>``) are the suite's properties; a failure's ``type`` is its
severity too. Failed: ``<failure>`` with the message, expected vs received and the curl; internal error:
``<error>``; skipped and known (baseline) failures: ``<skipped>`` with the reason; a deviation passes, its
allowance in ``<system-out>``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..checks.base import Outcome, Result
from .results import summary, unrun, verdict


def document(results: list[Result], target: dict[str, Any], stats: dict[str, Any], *, fail_on: str = "failed"
             ) -> ET.ElementTree:
    counts = summary(results)
    failures = sum(r.outcome is Outcome.FAILED for r in results)
    errors = sum(r.outcome is Outcome.ERROR for r in results)
    skipped = sum(r.outcome in (Outcome.SKIPPED, Outcome.KNOWN) for r in results)
    suite = ET.Element("testsuite", {"name": "infercheck", "tests": str(len(results)), "failures": str(failures),
                                     "errors": str(errors), "skipped": str(skipped),
                                     "time": f"{stats.get('duration_s', 0):.3f}"})
    properties = ET.SubElement(suite, "properties")
    facts = {"target": target.get("base_url"), "model": target.get("model"), "api": target.get("api"),
             "task": target.get("task"), "profile": target.get("profile"), "seed": target.get("seed"),
             "tls": target.get("tls"), "verdict": verdict(counts, fail_on, partial=unrun(results))[0], "requests": stats.get("requests")}
    for name, value in facts.items():
        if value is not None:
            ET.SubElement(properties, "property", {"name": name, "value": str(value)})
    for check, severity in sorted({(r.check, r.severity) for r in results}):
        ET.SubElement(properties, "property", {"name": f"severity.{check}", "value": severity})
    for r in results:
        case = ET.SubElement(suite, "testcase", {"classname": f"infercheck.{r.check}", "name": f"{r.case}/{r.check}",
                                                 "time": "0"})
        if r.outcome is Outcome.FAILED:
            element = ET.SubElement(case, "failure", {"type": r.severity, "message": r.message.split("\n", 1)[0]})
            element.text = r.render()
        elif r.outcome is Outcome.ERROR:
            element = ET.SubElement(case, "error", {"type": "internal", "message": r.message.split("\n", 1)[0]})
            element.text = r.render(traceback=True)
        elif r.outcome is Outcome.SKIPPED:
            ET.SubElement(case, "skipped", {"message": r.message})
        elif r.outcome is Outcome.KNOWN:
            ET.SubElement(case, "skipped", {"type": "known",
                                            "message": f"known failure (baseline): {r.known or 'no reason given'}"})
            ET.SubElement(case, "system-out").text = r.render()
        elif r.outcome is Outcome.DEVIATION:
            ET.SubElement(case, "system-out").text = "deviation: " + r.message
    ET.indent(suite)
    return ET.ElementTree(suite)


def write(path: str | Path, results: list[Result], target: dict[str, Any], stats: dict[str, Any], *,
          fail_on: str = "failed") -> None:
    document(results, target, stats, fail_on=fail_on).write(path, encoding="utf-8", xml_declaration=True)

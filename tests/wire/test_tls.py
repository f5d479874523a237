"""TLS: the reference endpoint served over HTTPS with a certificate from a CA made by trustme. Certificates are
verified by default; --ca-bundle trusts a private CA; --insecure skips verification; the report says which, and
every curl reproduction carries the same trust."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from infercheck.contract import schemas as _schemas
from infercheck.engine.target import TargetError, embedded, resolve
from infercheck.wire.transport import Tls, TlsError

from ..support import ROOT, infercheck


@pytest.fixture(scope="module")
def authority(tmp_path_factory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def https(authority, tmp_path) -> Iterator[tuple[str, Path]]:
    """(the base URL of the reference endpoint over HTTPS, the CA bundle that trusts it)."""
    with served(authority, tmp_path) as found:
        yield found


@contextmanager
def served(authority: tuple[trustme.CA, Path], where: Path, faults: tuple[str, ...] = ()
           ) -> Iterator[tuple[str, Path]]:
    ca, bundle = authority
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = where / "chain.pem", where / "key.pem"
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    with embedded(faults=faults, certificate=(str(chain), str(key))) as url:
        yield url, bundle


def test_an_unverifiable_certificate_is_a_clear_error_that_names_the_ways_out(https):
    url, _ = https
    assert url.startswith("https://")
    with pytest.raises(TargetError) as caught:
        resolve(url)  # certifi's CAs do not know trustme's
    assert "TLS certificate could not be verified" in str(caught.value)
    assert "--ca-bundle" in str(caught.value) and "--insecure" in str(caught.value)
    proc = infercheck("run", "--base-url", url)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "TLS certificate could not be verified" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr


def test_a_private_ca_is_trusted_with_ca_bundle_and_the_curl_reproductions_trust_it_too(authority, tmp_path):
    out, junit = tmp_path / "results.json", tmp_path / "junit.xml"
    with served(authority, tmp_path, faults=("completion-message",)) as (url, bundle):
        proc = infercheck("run", "--base-url", url, "--ca-bundle", str(bundle), "--max-examples", "2",
                          "--json", str(out), "--junit", str(junit))
        ran, untrusted = reproduce(out, bundle)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the fault is found over TLS: the run got through
    said = f"TLS certificates were verified against the CA bundle {bundle} alone (--ca-bundle)"
    assert said in proc.stdout
    doc = json.loads(out.read_text())
    assert _schemas.errors("results.json", doc) == []
    assert doc["target"]["tls"] == said and said in junit.read_text()
    failures = [r for r in doc["results"] if r["outcome"] == "failed"]
    assert failures and all(r["curl"].startswith(f"curl --cacert {shlex.quote(str(bundle))} ") for r in failures)
    if ran is None:
        pytest.skip("no curl on this machine to run the reproduction with")
    assert ran.returncode == 0 and ran.stdout == "200", ran.stderr
    assert untrusted.returncode == 60, untrusted.stderr  # curl's "peer certificate cannot be authenticated"


def reproduce(results: Path, bundle: Path) -> tuple[subprocess.CompletedProcess | None, ...]:
    """The first failure's curl command run as reported, and run without its --cacert; (None, None) without curl."""
    if shutil.which("curl") is None or not results.is_file():
        return None, None
    doc = json.loads(results.read_text())
    words = shlex.split(next(r["curl"] for r in doc["results"] if r["outcome"] == "failed"))
    ran = subprocess.run([*words, "-sS", "-o", "/dev/null", "-w", "%{http_code}"], capture_output=True, text=True,
                         timeout=30)
    untrusted = subprocess.run([w for w in words if w not in ("--cacert", str(bundle))] + ["-sS", "-o", "/dev/null"],
                               capture_output=True, text=True, timeout=30)
    return ran, untrusted


def test_insecure_skips_verification_and_the_report_says_so(https, tmp_path):
    url, _ = https
    out = tmp_path / "results.json"
    proc = infercheck("run", "--base-url", url, "--insecure", "-k", "models", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = "TLS certificates were not verified (--insecure)"
    assert said in proc.stdout and json.loads(out.read_text())["target"]["tls"] == said
    assert resolve(url, insecure=True).discovery[0].curl().startswith("curl -k ")


def test_the_default_trust_says_nothing_and_adds_nothing_to_curl():
    with embedded() as url:
        target = resolve(url)
    assert target.tls.describe() is None and target.discovery[0].curl().startswith(f"curl {url}")


@pytest.mark.parametrize(("content", "says"), [
    (None, "no such file"),
    ("not a certificate\n", "not a PEM file of CA certificates"),
])
def test_a_bad_ca_bundle_is_a_clear_error(tmp_path, content, says):
    bundle = tmp_path / "bundle.pem"
    if content is not None:
        bundle.write_text(content)
    with pytest.raises(TlsError, match=says):
        Tls(str(bundle))
    if content is not None:  # a missing file is refused by the command line itself
        proc = infercheck("run", "--ca-bundle", str(bundle))
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr


def test_ca_bundle_and_insecure_together_are_refused(authority):
    _, bundle = authority
    proc = infercheck("run", "--ca-bundle", str(bundle), "--insecure")
    assert proc.returncode == 2 and "contradict" in proc.stderr and "Traceback" not in proc.stderr


def test_the_pytest_plugin_takes_both_settings_and_says_which_it_used(https, pytester, monkeypatch):
    url, bundle = https
    pytester.syspathinsert(str(ROOT / "suites"))
    suite = pytester.copy_example(str(ROOT / "suites" / "test_openai.py"))
    monkeypatch.setenv("INFERCHECK_BASE_URL", url)
    result = pytester.runpytest_inprocess(suite, "-k", "models", "--infercheck-ca-bundle", str(bundle))
    assert result.ret == 0 and result.parseoutcomes()["passed"] >= 6
    result.stdout.fnmatch_lines([f"infercheck: TLS certificates were verified against the CA bundle {bundle} alone*"])
    pytester.makeini("[pytest]\ninfercheck_insecure = true\n")
    result = pytester.runpytest_inprocess(suite, "-k", "models")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["infercheck: TLS certificates were not verified (--insecure)"])
    result = pytester.runpytest_inprocess(suite, "-k", "models", "--infercheck-insecure", "maybe")
    assert result.ret == 2  # stopped before any request, saying why
    result.stdout.fnmatch_lines(["*infercheck: insecure must be true or false, not 'maybe'*"])


def test_a_compared_target_passes_its_trust_to_its_run(authority, tmp_path):
    from infercheck._compare import Target, command

    _, bundle = authority
    args, _ = command(Target("private", {"base_url": "https://10.0.0.1/v1", "ca_bundle": str(bundle)}),
                      tmp_path / "out.json", 1)
    assert args[args.index("--ca-bundle") + 1] == str(bundle) and "--insecure" not in args
    args, _ = command(Target("lab", {"base_url": "https://10.0.0.2/v1", "insecure": True}), tmp_path / "out.json", 1)
    assert "--insecure" in args and "--ca-bundle" not in args

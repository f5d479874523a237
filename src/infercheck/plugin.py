"""The pytest plugin (entry point ``pytest11``): options, the shared runner, outcomes, results file.

Settings come from, highest first: the command line (``--infercheck-*``), the
environment (``INFERCHECK_*``, then ``OPENAI_*``), the configuration file
(``infercheck.toml`` or ``[tool.infercheck]``), the ini file (``infercheck_*``
keys), the defaults.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import _aio, _baseline, _config, _engine, _profiles, _properties, _report
from ._checks import Outcome, Result, internal_error
from ._resources import data_dir
from ._engine import Item, Runner
from ._exchange import Exchange
from ._gate import Gate
from ._target import (ALL_TASKS, APIS, DEFAULT_BREAKER, DEFAULT_LOAD_WAIT, DEFAULT_TIMEOUT, Target, TargetError,
                      choose_api, embedded, resolve, selects)
from ._transport import DEFAULT_MAX_BODY, DEFAULT_MAX_EVENTS, DEFAULT_MAX_RETRIES, parse_size

# name, environment variables (first set wins), help
_SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "base_url": (("INFERCHECK_BASE_URL", "OPENAI_BASE_URL"),
                 "OpenAI-style base URL including /v1 (TGI: its root; a task: the endpoint's URL); none: test the "
                 "embedded reference endpoint"),
    "api_key": (("INFERCHECK_API_KEY", "OPENAI_API_KEY", "HF_TOKEN"), "bearer API key for the target"),
    "api": (("INFERCHECK_API",), f"the API to check: {', '.join(APIS)} (default openai; hf when a task is given)"),
    "task": (("INFERCHECK_TASK",), f"the Hugging Face task the URL serves (or {ALL_TASKS}: each at <base>/<task>)"),
    "load_wait": (("INFERCHECK_LOAD_WAIT",),
                  f"seconds to wait out 503 'model is loading' per request (default {DEFAULT_LOAD_WAIT:g})"),
    "model": (("INFERCHECK_MODEL",), "model to test (default: the first from GET /models)"),
    "concurrency": (("INFERCHECK_CONCURRENCY",), f"requests in flight at once (default {_engine.DEFAULT_CONCURRENCY})"),
    "timeout": (("INFERCHECK_TIMEOUT",), f"seconds allowed per request (default {DEFAULT_TIMEOUT:g})"),
    "max_body": (("INFERCHECK_MAX_BODY",), "bytes of one answer read at most (500k, 8MiB; default 8MiB)"),
    "max_events": (("INFERCHECK_MAX_EVENTS",), f"events of one streamed answer read at most (default {DEFAULT_MAX_EVENTS})"),
    "max_retries": (("INFERCHECK_MAX_RETRIES",), f"re-sends of a request answered 429 (default {DEFAULT_MAX_RETRIES})"),
    "breaker": (("INFERCHECK_BREAKER",), f"requests in a row to one route unanswered before the rest are not sent "
                f"(default {DEFAULT_BREAKER}; 0: never)"),
    "ca_bundle": (("INFERCHECK_CA_BUNDLE",), "verify the endpoint's TLS certificate against the CAs in this PEM file "
                  "alone"),
    "insecure": (("INFERCHECK_INSECURE",), "true: do not verify the endpoint's TLS certificate (the report says so)"),
    "json": (("INFERCHECK_JSON",), "write the results document to this path"),
    "profile": (("INFERCHECK_PROFILE",),
                f"dialect profile: {', '.join(_profiles.names())}, or a .toml path (default {_profiles.DEFAULT})"),
    "max_requests": (("INFERCHECK_MAX_REQUESTS",), "send at most this many requests; cases beyond are skipped"),
    "max_tokens": (("INFERCHECK_MAX_TOKENS",), "generate at most this many completion tokens in all (a hard ceiling); "
                   "requests beyond are skipped"),
    "fault": (("INFERCHECK_FAULT",), "plant these comma-separated faults in the embedded reference endpoint"),
    "max_examples": (("INFERCHECK_MAX_EXAMPLES",),
                     f"generated requests per property (default {_properties.DEFAULT_MAX_EXAMPLES}, or the "
                     "hypothesis profile's)"),
    "shrink_budget": (("INFERCHECK_SHRINK_BUDGET",),
                      "after a property suite's first failure, at most REQUESTS:SECONDS more (default "
                      f"{_properties.DEFAULT_SHRINK_BUDGET[0]}:{_properties.DEFAULT_SHRINK_BUDGET[1]:g})"),
    "seed": (("INFERCHECK_SEED",), "seed of the property suites, for a reproducible run (default: random, reported)"),
    "fail_on": (("INFERCHECK_FAIL_ON",), f"what fails the run: {', '.join(_report.FAIL_ON)} (default failed); "
                "internal errors always do"),
    "baseline": (("INFERCHECK_BASELINE",), "report the failures this baseline file records as known, not failed"),
    "write_baseline": (("INFERCHECK_WRITE_BASELINE",), "write the run's failures to this baseline file"),
    "hypothesis_profile": (("INFERCHECK_HYPOTHESIS_PROFILE",),
                           "hypothesis settings profile for the property suites: ci, thorough (suites/conftest.py)"),
}
_RESULT = pytest.StashKey[Result]()
_VERDICT = pytest.StashKey[bool]()  # the test failed on purpose: its failures are results already
_STATE = pytest.StashKey["State"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infercheck", "infercheck: conformance of inference endpoints")
    for name, (env, help) in _SETTINGS.items():
        flag = "--infercheck-" + name.replace("_", "-")
        group.addoption(flag, dest="infercheck_" + name, default=None, help=f"{help} [env: {', '.join(env)}]")
        parser.addini("infercheck_" + name, help)


_FILE = pytest.StashKey[_config.Config]()


def _under_cli(config: pytest.Config) -> bool:
    return any(isinstance(p, Preset) for p in config.pluginmanager.get_plugins())


def setting(config: pytest.Config, name: str) -> str | None:
    """A setting from, highest first: the command line, the environment, the configuration file (infercheck.toml
    or [tool.infercheck], as every front end reads it), the ini file."""
    value = config.getoption("infercheck_" + name)
    if value is None:
        value = next((os.environ[e] for e in _SETTINGS[name][0] if os.environ.get(e)), None)
    if value is None and not _under_cli(config):  # `infercheck run` read the file already, and says what it found
        if _FILE not in config.stash:
            try:
                config.stash[_FILE] = _config.load()
            except _config.ConfigError as exc:
                raise pytest.UsageError(f"infercheck: {exc}") from None
        found = config.stash[_FILE].run.get(name)
        value = None if found is None else str(_config.resolve(found, name, config.stash[_FILE].path))
    if value is None:
        value = config.getini("infercheck_" + name) or None
    return value


@dataclass(eq=False)  # registered as a pytest plugin: hashed by identity
class Preset:
    """Handed in by ``infercheck run``: the target is already resolved, and the state is read back."""

    target: Target
    state: State | None = None


@dataclass(eq=False)  # registered as a pytest plugin: hashed by identity
class State:
    """The session's infercheck state; as a plugin, it also hears of suites that cannot be collected."""

    config: pytest.Config
    runner: Runner | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    seed: int | None = None  # of the property suites, once chosen
    suites: list[Any] = field(default_factory=list)  # the session's property suites, explored together
    explored: dict[Any, Any] = field(default_factory=dict)  # property -> its exploration
    broken: Exception | None = None  # what stopped the property suites' exploration (an internal error)
    errors: list[Result] = field(default_factory=list)  # internal errors no check recorded (suites, collection)

    @property
    def results(self) -> list[Result]:
        return (self.runner.results if self.runner else []) + self.errors

    def record(self, error: Result) -> None:
        """Keep an internal error that no check recorded, the target's secrets redacted from it."""
        target = self.runner.target if self.runner else getattr(self.preset(), "target", None)
        self.errors.append(_report.redact_result(error, target.secrets() if target else []))

    def pytest_exception_interact(self, node: pytest.Collector | pytest.Item, call: pytest.CallInfo[Any],
                                  report: pytest.CollectReport | pytest.TestReport) -> None:
        """A suite of infercheck's that cannot be collected is an internal error too (pytest then stops before
        any test); other modules' collection errors are pytest's to report."""
        module = getattr(node, "path", None)
        if not isinstance(report, pytest.CollectReport) or module is None or call.excinfo is None:
            return
        if not Path(module).resolve().is_relative_to(data_dir("suites")):
            return
        exc = call.excinfo.value
        if isinstance(exc, pytest.Collector.CollectError) and exc.__context__ is not None:
            exc = exc.__context__  # pytest's wrapper of an import error: the import error itself
        self.record(internal_error(exc, what=f"suite suites/{report.nodeid} (during collection)", case=report.nodeid))

    def _number(self, name: str, cast: type, default: Any) -> Any:
        raw = setting(self.config, name)
        try:
            value = cast(raw) if raw is not None else default
        except ValueError:
            raise pytest.UsageError(f"infercheck: {name} must be a number, not {raw!r}") from None
        if value is not None and value <= 0:
            raise pytest.UsageError(f"infercheck: {name} must be positive, not {raw!r}")
        return value

    def _count(self, name: str, default: int) -> int:
        """A whole number >= 0."""
        raw = setting(self.config, name)
        if raw is None:
            return default
        if not raw.strip().isdigit():
            raise pytest.UsageError(f"infercheck: {name} must be a whole number >= 0, not {raw!r}")
        return int(raw)

    def _flag(self, name: str) -> bool:
        """A yes or no: true, 1, yes, on (any case), or false, 0, no, off; unset is no."""
        raw = setting(self.config, name)
        if raw is None or raw.strip().lower() in ("false", "0", "no", "off", ""):
            return False
        if raw.strip().lower() in ("true", "1", "yes", "on"):
            return True
        raise pytest.UsageError(f"infercheck: {name} must be true or false, not {raw!r}")

    def preset(self) -> Preset | None:
        return next((p for p in self.config.pluginmanager.get_plugins() if isinstance(p, Preset)), None)

    def selection(self) -> tuple[str, str | None]:
        """(api, task) of the run: the resolved target's, or the settings'."""
        preset = self.preset()
        if preset is not None:
            return preset.target.api, preset.target.task
        return choose_api(setting(self.config, "api"), setting(self.config, "task"))

    def target(self) -> Target:
        preset = self.preset()
        if preset is not None:
            return preset.target
        timeout = self._number("timeout", float, DEFAULT_TIMEOUT)
        base_url = setting(self.config, "base_url")
        api_key = setting(self.config, "api_key")
        faults = tuple(f for f in (setting(self.config, "fault") or "").split(",") if f)
        if base_url is not None and faults:
            raise pytest.UsageError("infercheck: faults are planted in the embedded endpoint only; drop --base-url")
        api, task = self.selection()
        is_embedded = base_url is None
        if is_embedded:
            base_url = self.stack.enter_context(embedded(api_key=api_key, faults=faults, api=api, task=task))
        max_body = setting(self.config, "max_body")
        try:
            max_body = parse_size(max_body) if max_body is not None else DEFAULT_MAX_BODY
        except ValueError as exc:
            raise pytest.UsageError(f"infercheck: max_body: {exc}") from None
        target = resolve(base_url, api_key=api_key, model=setting(self.config, "model"), timeout=timeout, api=api,
                         task=task, load_wait=self._number("load_wait", float, DEFAULT_LOAD_WAIT), max_body=max_body,
                         max_events=self._number("max_events", int, DEFAULT_MAX_EVENTS),
                         max_retries=self._count("max_retries", DEFAULT_MAX_RETRIES),
                         breaker=self._count("breaker", DEFAULT_BREAKER), ca_bundle=setting(self.config, "ca_bundle"),
                         insecure=self._flag("insecure"))
        target.embedded = is_embedded
        return target

    def start(self, items: Iterable[pytest.Item]) -> Runner:
        if self.runner is None:
            concurrency = self._number("concurrency", int, _engine.DEFAULT_CONCURRENCY)
            max_requests = self._number("max_requests", int, None)
            max_tokens = self._number("max_tokens", int, None)
            try:
                profile = _profiles.load(setting(self.config, "profile"))
                if _properties.properties(api=self.selection()[0]):
                    self.hypothesis()  # a bad property setting stops the run before any request
                    self.shrink_budget()
                fail_on = setting(self.config, "fail_on")
                if fail_on is not None and fail_on not in _report.FAIL_ON:
                    raise pytest.UsageError(f"infercheck: fail_on must be one of {', '.join(_report.FAIL_ON)}, "
                                            f"not {fail_on!r}")
                baseline_path = setting(self.config, "baseline")
                baseline = _baseline.load(baseline_path) if baseline_path else None
                self.runner = Runner(self.target(), concurrency, profile, max_requests, baseline=baseline,
                                     max_tokens=max_tokens)
            except (TargetError, ValueError) as exc:
                pytest.exit(f"infercheck: {exc}", returncode=2)
            except pytest.UsageError as exc:
                pytest.exit(str(exc), returncode=2)
            wanted = [i.callspec.params["infercheck_item"] for i in items
                      if hasattr(i, "callspec") and "infercheck_item" in i.callspec.params]
            suites = list(dict.fromkeys(i.callspec.params["infercheck_property"] for i in items
                                        if hasattr(i, "callspec") and "infercheck_property" in i.callspec.params))
            self.explore(suites, wanted)
        return self.runner

    def explore(self, suites: list[_properties.Property], wanted: list[Item]) -> None:
        """Send the cases of ``wanted`` and explore every property suite of the session, all at once on one event
        loop under one gate of ``--concurrency`` (each suite's test reports its exploration). Hypothesis draws the
        suites' requests in a thread while the cases are sent; each suite's requests join the cases' as soon as
        they are drawn, so neither waits for the other's last answers, and the cases' checks are evaluated while
        the suites' answers arrive."""
        runner = self.runner
        cases = list(dict.fromkeys(item.case for item in wanted))
        if suites:
            base, examples, seed = self.hypothesis()
            budget = self.shrink_budget()

        async def both() -> list[Any]:
            gate = Gate(runner.concurrency)
            explore = [_properties.run_all_async(runner, suites, base=base, max_examples=examples, seed=seed,
                                                 shrink_budget=budget, gate=gate)] if suites else []
            return await asyncio.gather(runner.send_async(cases, gate, wanted), *explore, return_exceptions=True)

        sent, *explored = _aio.run(both())
        if isinstance(sent, BaseException):
            raise sent
        if not explored:
            return
        if isinstance(explored[0], BaseException):  # infercheck's own bug: each suite's test reports it, the cases
            if not isinstance(explored[0], Exception):  # stand
                raise explored[0]
            self.broken = explored[0]
            return
        self.explored.update(zip(suites, explored[0]))

    def shrink_budget(self) -> tuple[int, float]:
        raw = setting(self.config, "shrink_budget")
        try:
            return _properties.parse_shrink_budget(raw) if raw else _properties.DEFAULT_SHRINK_BUDGET
        except ValueError as exc:
            raise pytest.UsageError(f"infercheck: {exc}") from None

    def hypothesis(self) -> tuple[Any, int, int | None]:
        """(base settings, max examples, seed) for the property suites."""
        from hypothesis import settings
        from hypothesis.errors import InvalidArgument

        name = setting(self.config, "hypothesis_profile") or self.config.getoption("hypothesis_profile", None)
        try:
            base = settings.get_profile(name) if name else settings()
        except InvalidArgument:
            raise pytest.UsageError(f"infercheck: unknown hypothesis profile {name!r}; the suites register "
                                    "ci and thorough") from None
        examples = self._number("max_examples", int, base.max_examples if name else
                                _properties.DEFAULT_MAX_EXAMPLES)
        if self.seed is None:
            raw = setting(self.config, "seed")
            if raw is not None:
                try:
                    self.seed = int(raw)
                except ValueError:
                    raise pytest.UsageError(f"infercheck: seed must be an integer, not {raw!r}") from None
            elif not base.derandomize:
                self.seed = random.getrandbits(32)
        return base, examples, self.seed

    def target_info(self) -> dict[str, Any]:
        target = self.runner.target
        return {"base_url": target.base_url, "model": target.model, "embedded": target.embedded,
                "api": target.api, "task": target.task, "authenticated": bool(target.api_key), "profile": self.runner.profile.name,
                "seed": self.seed, "tls": target.tls.describe()}


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests of the API (and task) under test; the others are deselected, not skipped."""
    state = config.stash.get(_STATE, None)
    ours = [i for i in items if hasattr(i, "callspec") and
            {"infercheck_item", "infercheck_property"} & set(i.callspec.params)]
    if state is None or not ours:
        return  # a session with no conformance test: infercheck reads no setting (nor its configuration file)
    try:
        api, task = state.selection()
    except (TargetError, pytest.UsageError):
        return  # reported, with exit 2, when the session's runner starts
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None).params if hasattr(item, "callspec") else {}
        if "infercheck_item" in params:
            case = params["infercheck_item"].case
            wanted = selects(api, task, case.api, case.route)
        elif "infercheck_property" in params:
            route = params["infercheck_property"].route
            wanted = selects(api, task, _properties.ROUTES[route].api, route)
        else:
            wanted = True
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def conformance(api: str = "openai", *, routes: Iterable[str] | None = None) -> pytest.MarkDecorator:
    """Parametrize a suite test over every (case, check) pair of ``api`` (and ``routes``)."""
    return pytest.mark.parametrize("infercheck_item", _engine.items(api, routes=routes), ids=str)


def properties(api: str = "openai", *, routes: list[str] | None = None) -> pytest.MarkDecorator:
    """Parametrize a suite test over the property suites (positive and negative, per route) of ``api``."""
    found = _properties.properties(routes, api=api)
    if not found:
        raise ValueError(f"no property suites for api {api!r}")
    return pytest.mark.parametrize("infercheck_property", found, ids=str)


class Verifier:
    def __init__(self, runner: Runner, node: pytest.Item, state: State):
        self.runner, self.node, self.state = runner, node, state

    def verify(self, item: Item) -> Result:
        result = _report.redact_result(self.runner.evaluate(item), self.runner.target.secrets())
        self.node.stash[_RESULT] = result
        _allure(result, feature=f"{item.case.api} {item.case.route}", exchange=self.runner.exchanges.get(item.case.id),
                secrets=self.runner.target.secrets())
        if result.outcome in (Outcome.FAILED, Outcome.ERROR):
            self.node.stash[_VERDICT] = True
            pytest.fail(result.render(traceback=True), pytrace=False)
        if result.outcome is Outcome.SKIPPED:
            pytest.skip(result.message)
        if result.outcome is Outcome.KNOWN:
            pytest.xfail(f"known failure (baseline): {result.known or 'no reason given'}")
        return result

    def explore(self, prop: _properties.Property) -> _properties.Exploration:
        """Run one property suite; its failures (each shrunk to a minimal request) fail the test."""
        base, examples, seed = self.state.hypothesis()
        budget = self.state.shrink_budget()
        if self.state.broken is not None:
            raise self.state.broken
        if prop not in self.state.explored:  # a suite the session's start did not explore (run outside a session)
            self.state.explored[prop] = _properties.run(self.runner, prop, base=base, max_examples=examples, seed=seed,
                                                        shrink_budget=budget)
        found = self.state.explored[prop]
        route = _properties.ROUTES[prop.route]
        for result in found.failures:
            _allure(result, feature=f"{route.api} {prop.route}")
        if found.skipped:
            pytest.skip(found.skipped)
        if found.errors:
            self.node.stash[_RESULT] = found.errors[0]
        if found.failures or found.errors:
            self.node.stash[_VERDICT] = True
            again = f"\nthe search again: --seed {seed}" if seed is not None and found.failures else ""
            pytest.fail("\n\n".join(r.render(traceback=True) for r in found.errors + found.failures) + again,
                        pytrace=False)
        if found.known:
            pytest.xfail(f"{len(found.known)} known failure(s) (baseline)")
        deviation = next((r for r in found.results if r.outcome is Outcome.DEVIATION), None)
        if deviation is not None:
            self.node.stash[_RESULT] = deviation
        return found


def _allure(result: Result, *, feature: str, exchange: Exchange | None = None, secrets: list[str] = ()) -> None:
    """Allure labels (severity; feature: the API and route; story: the check) and attachments: the curl, and the
    request and response as sent and received, the key never in them."""
    import allure  # not at import: the plugin loads in every pytest session, Allure's labels matter in few

    allure.dynamic.severity({"critical": "critical", "high": "critical", "medium": "normal", "low": "minor"}
                            [result.severity])
    allure.dynamic.label("check", result.check)
    allure.dynamic.feature(feature)
    allure.dynamic.story(result.check)
    text = allure.attachment_type.TEXT
    if result.curl:
        allure.attach(result.curl, name="curl", attachment_type=text)
    if exchange is not None and exchange.sent and result.outcome is not Outcome.PASSED:
        allure.attach(exchange.request.text(), name="request",
                      attachment_type=text)
        allure.attach(_report.redact(_report.response_text(exchange), list(secrets)), name="response",
                      attachment_type=text)


@pytest.fixture(scope="session")
def infercheck_runner(request: pytest.FixtureRequest) -> Runner:
    return request.config.stash[_STATE].start(request.session.items)


@pytest.fixture
def infercheck(request: pytest.FixtureRequest, infercheck_runner: Runner) -> Verifier:
    return Verifier(infercheck_runner, request.node, request.config.stash[_STATE])


def pytest_configure(config: pytest.Config) -> None:
    state = config.stash[_STATE] = State(config)
    config.pluginmanager.register(state, "infercheck-state")
    preset = state.preset()
    if preset is not None:
        preset.state = state


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.stack.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    result = item.stash.get(_RESULT, None)
    if call.when == "call" and result is not None and result.outcome is Outcome.DEVIATION:
        report.infercheck_deviation = result.message
    state = item.config.stash.get(_STATE, None)
    ours = "infercheck" in getattr(item, "fixturenames", ())  # a conformance test; never another plugin's or a user's
    if report.failed and ours and state is not None and not (call.when == "call" and item.stash.get(_VERDICT, False)):
        # pytest saw this test break, and no check decided it: infercheck's own code raised
        result = _suite_error(item, call)
        state.record(result)
    if report.failed and result is not None and result.outcome is Outcome.ERROR:
        report.infercheck_error = result.message
    return report


def _suite_error(item: pytest.Item, call: pytest.CallInfo[None]) -> Result:
    """The internal error that broke ``item`` outside any check: the runner, the property machinery, the suite."""
    params = item.callspec.params if hasattr(item, "callspec") else {}
    during = "" if call.when == "call" else f" (during {call.when})"
    exc = call.excinfo.value if call.excinfo is not None else RuntimeError("the test failed without an exception")
    if "infercheck_property" in params:
        prop = params["infercheck_property"]
        return internal_error(exc, what=f"property suite {prop.id}{during}", case=f"property.{prop.id}")
    if "infercheck_item" in params:
        it = params["infercheck_item"]
        return internal_error(exc, what=f"suite {item.path.name} at {it.id}{during}", case=it.case.id,
                              check=it.check.id, severity=it.check.severity, title=it.check.title)
    return internal_error(exc, what=f"{item.nodeid}{during}", case=item.name)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    if getattr(report, "infercheck_error", None) is not None:
        return "error", "E", ("ERROR", {"red": True})
    if getattr(report, "infercheck_deviation", None) is not None:
        return "deviation", "D", ("DEVIATION", {"yellow": True})
    return None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    errors = _report.summary(state.results)["errors"]
    if errors:
        terminalreporter.write_line(f"infercheck: {errors} internal error(s): infercheck's own code raised, so the "
                                    "run is incomplete", red=True, bold=True)
    if state.runner is None:
        return
    stats = state.runner.stats()
    target = state.runner.target
    seed = f", property seed {state.seed}" if state.seed is not None else ""
    waited = (f", waited up to {stats['loading_waited_s']:g} s for the model to load"
              if stats["loading_waited_s"] else "")
    terminalreporter.write_line(
        f"infercheck: {target.base_url} model={target.model} profile={state.runner.profile.name}: "
        f"{stats['requests']} requests, {stats['completion_tokens']} completion tokens{seed}{waited}"
    )
    if target.tls.describe() and not _under_cli(terminalreporter.config):  # `infercheck run` said so first
        terminalreporter.write_line(f"infercheck: {target.tls.describe()}", yellow=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or state.runner is None:
        return
    path = setting(session.config, "json")
    if path:
        try:
            doc = _report.document(target=state.target_info(), results=state.results, stats=state.runner.stats(),
                                   metrics=state.runner.metrics(), samples=state.runner.latency_samples())
            _report.write(path, doc)
        except Exception as exc:
            state.record(internal_error(exc, what=f"the results document writer ({path})", case="results"))
    path = setting(session.config, "write_baseline")
    if path:
        try:
            _baseline.write(path, state.results, state.target_info())
        except Exception as exc:
            state.record(internal_error(exc, what=f"the baseline writer ({path})", case="baseline"))
    # --fail-on in a plain pytest session (infercheck run decides its own exit status from the verdict)
    fail_on = setting(session.config, "fail_on") or "failed"
    counts = _report.summary(state.results)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not counts["errors"] and \
            not _under_cli(session.config):
        if fail_on == "never":
            session.exitstatus = pytest.ExitCode.OK
        elif fail_on == "deviation" and counts["deviations"]:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

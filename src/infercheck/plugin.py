"""The pytest plugin (entry point ``pytest11``): its options, the session's run, the outcomes of the tests, and the
files written at the end.

Settings come from, highest first: the command line (``--infercheck-*``), the environment (``INFERCHECK_*``, then
``OPENAI_*``), the configuration file (``infercheck.toml`` or ``[tool.infercheck]``), the ini file
(``infercheck_*`` keys), the defaults; all of them are declared once, in ``_settings``. Under ``infercheck run`` the
command hands in the target it resolved and the settings it read (``Preset``).
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import _config, _settings
from .checks import baseline as _baseline
from .checks.base import Outcome, Result, internal_error, redact_result
from .checks.catalog import kinds, registry
from .contract import profiles as _profiles
from .contract.data import data_dir
from .generation.requests import DEFAULT_MAX_EXAMPLES
from .generation.routes import ROUTES, Property
from .generation.routes import properties as _properties
from .reports import results as _report
from .reports.allure import label
from .engine.runner import Item, Runner, items
from .engine.search import Exploration
from .engine.session import Session
from .engine.target import Target, TargetError, choose_api, open_target, selects

_RESULT = pytest.StashKey[Result]()
_VERDICT = pytest.StashKey[bool]()  # the test failed on purpose: its failures are results already
_STATE = pytest.StashKey["State"]()
_FILE = pytest.StashKey[_config.Config]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("infercheck", "infercheck: conformance of inference endpoints")
    for s in _settings.where(_settings.PLUGIN):
        group.addoption("--infercheck-" + s.flag[2:], dest="infercheck_" + s.name, default=None,
                        help=f"{s.help} [env: {', '.join(s.envvars)}]")
        parser.addini("infercheck_" + s.name, s.help)


def _preset(config: pytest.Config) -> Preset | None:
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Preset)), None)


def setting(config: pytest.Config, name: str) -> str | None:
    """A setting as given, from, highest first: the command line, the environment, the configuration file
    (infercheck.toml or [tool.infercheck], as every front end reads it), the ini file."""
    value = config.getoption("infercheck_" + name)
    if value is None:
        value = next((os.environ[e] for e in _settings.SETTINGS[name].envvars if os.environ.get(e)), None)
    if value is None:
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


def value(config: pytest.Config, name: str) -> Any:
    """A setting's value: the one ``infercheck run`` handed in, or the one given (``setting``) read by its kind, or
    its default. A value that cannot be read is a usage error."""
    preset = _preset(config)
    if preset is not None:
        return preset.values.get(name, _settings.SETTINGS[name].default)
    raw = setting(config, name)
    if raw is None:
        return _settings.SETTINGS[name].default
    try:
        return _settings.SETTINGS[name].parse(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"infercheck: {exc}") from None


@dataclass(eq=False)  # registered as a pytest plugin: hashed by identity
class Preset:
    """Handed in by ``infercheck run``: the target it resolved, and every setting's value; the state is read back."""

    target: Target
    values: dict[str, Any] = field(default_factory=dict)
    state: State | None = None


@dataclass(eq=False)  # registered as a pytest plugin: hashed by identity
class State:
    """The session's infercheck state; as a plugin, it also hears of suites that cannot be collected."""

    config: pytest.Config
    session: Session | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    errors: list[Result] = field(default_factory=list)  # internal errors no check recorded (suites, collection)
    wanted: list[Item] = field(default_factory=list)  # the checks of the collected items
    deselected: int = 0  # checks -k left out
    interrupted: bool = False  # Ctrl-C stopped the session
    unwritten: list[str] = field(default_factory=list)  # outputs that could not be written, and why

    @property
    def runner(self) -> Runner | None:
        return self.session.runner if self.session else None

    @property
    def seed(self) -> int | None:
        return self.session.seed if self.session else None

    @property
    def results(self) -> list[Result]:
        return (self.runner.results if self.runner else []) + self.errors

    def record(self, error: Result) -> None:
        """Keep an internal error that no check recorded, the target's secrets redacted from it."""
        target = self.runner.target if self.runner else getattr(_preset(self.config), "target", None)
        self.errors.append(redact_result(error, target.secrets() if target else []))

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

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C. pytest's exit status INTERRUPTED, and this hook, also stand for errors during collection
        (``Session.Interrupted``, a KeyboardInterrupt of its own) and ``pytest.exit``: only a plain
        KeyboardInterrupt is Ctrl-C."""
        self.interrupted = self.interrupted or type(excinfo.value) is KeyboardInterrupt

    def selection(self) -> tuple[str, str | None]:
        """(api, task) of the run: the resolved target's, or the settings'."""
        preset = _preset(self.config)
        if preset is not None:
            return preset.target.api, preset.target.task
        return choose_api(setting(self.config, "api"), setting(self.config, "task"))

    def target(self) -> Target:
        preset = _preset(self.config)
        if preset is not None:
            return preset.target
        api, task = self.selection()
        given = {name: value(self.config, name) for name in _settings.OPENS_TARGET}
        return open_target(self.stack, faults=value(self.config, "fault"), api=api, task=task, **given)

    def start(self, collected: Iterable[pytest.Item]) -> Runner:
        """The session's runner, made and started the first time: the cases of the collected items and the property
        suites of the session, sent together (``Session.start``)."""
        if self.session is not None:
            return self.session.runner
        collected = list(collected)
        wanted = [i.callspec.params["infercheck_item"] for i in collected
                  if hasattr(i, "callspec") and "infercheck_item" in i.callspec.params]
        self.wanted = wanted
        suites = list(dict.fromkeys(i.callspec.params["infercheck_property"] for i in collected
                                    if hasattr(i, "callspec") and "infercheck_property" in i.callspec.params))
        try:
            # the property settings, the outcome that fails the run and the baseline are read first: a bad one
            # stops the run before any request
            base, examples, seed = self.hypothesis() if _properties(api=self.selection()[0]) else (None, 0, None)
            shrink_budget = value(self.config, "shrink_budget")
            value(self.config, "fail_on")
            path = value(self.config, "baseline")
            baseline = _baseline.load(path) if path else None
            runner = Runner(self.target(), value(self.config, "concurrency"),
                            _profiles.load(value(self.config, "profile"), checks=registry(), kinds=kinds),
                            value(self.config, "max_requests"),
                            baseline=baseline, max_tokens=value(self.config, "max_tokens"), seed=seed,
                            max_failures=value(self.config, "max_failures"))
        except (TargetError, ValueError) as exc:
            pytest.exit(f"infercheck: {exc}", returncode=2)
        except pytest.UsageError as exc:
            pytest.exit(str(exc), returncode=2)
        self.session = Session(runner, base=base, max_examples=examples, seed=seed, shrink_budget=shrink_budget)
        self.session.start(wanted, suites)
        return runner

    def hypothesis(self) -> tuple[Any, int, int | None]:
        """(base settings, max examples, seed) for the property suites."""
        from hypothesis import settings
        from hypothesis.errors import InvalidArgument

        name = value(self.config, "hypothesis_profile") or self.config.getoption("hypothesis_profile", None)
        try:
            base = settings.get_profile(name) if name else settings()
        except InvalidArgument:
            raise pytest.UsageError(f"infercheck: unknown hypothesis profile {name!r}; the suites register "
                                    "ci and thorough") from None
        examples = value(self.config, "max_examples") or (base.max_examples if name else DEFAULT_MAX_EXAMPLES)
        seed = value(self.config, "seed")
        return base, examples, seed if seed is not None or base.derandomize else random.getrandbits(32)


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
            wanted = selects(api, task, ROUTES[route].api, route)
        else:
            wanted = True
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def conformance(api: str = "openai", *, routes: Iterable[str] | None = None) -> pytest.MarkDecorator:
    """Parametrize a suite test over every (case, check) pair of ``api`` (and ``routes``)."""
    return pytest.mark.parametrize("infercheck_item", items(api, routes=routes), ids=str)


def properties(api: str = "openai", *, routes: list[str] | None = None) -> pytest.MarkDecorator:
    """Parametrize a suite test over the property suites (positive and negative, per route) of ``api``."""
    found = _properties(routes, api=api)
    if not found:
        raise ValueError(f"no property suites for api {api!r}")
    return pytest.mark.parametrize("infercheck_property", found, ids=str)


class Verifier:
    def __init__(self, runner: Runner, node: pytest.Item, state: State):
        self.runner, self.node, self.state = runner, node, state

    def verify(self, item: Item) -> Result:
        result = redact_result(self.runner.evaluate(item), self.runner.target.secrets())
        self.node.stash[_RESULT] = result
        label(result, feature=f"{item.case.api} {item.case.route}", exchange=self.runner.exchanges.get(item.case.id),
              secrets=self.runner.target.secrets())
        if result.outcome in (Outcome.FAILED, Outcome.ERROR):
            self.node.stash[_VERDICT] = True
            pytest.fail(result.render(traceback=True), pytrace=False)
        if result.outcome is Outcome.SKIPPED:
            pytest.skip(result.message)
        if result.outcome is Outcome.KNOWN:
            pytest.xfail(f"known failure (baseline): {result.known or 'no reason given'}")
        return result

    def explore(self, prop: Property) -> Exploration:
        """Report one property suite; its failures (each shrunk to a minimal request) fail the test."""
        found = self.state.session.exploration(prop)
        for result in found.failures:
            label(result, feature=f"{ROUTES[prop.route].api} {prop.route}")
        if found.skipped:
            pytest.skip(found.skipped)
        if found.errors:
            self.node.stash[_RESULT] = found.errors[0]
        if found.failures or found.errors:
            self.node.stash[_VERDICT] = True
            seed = self.state.seed
            again = f"\nthe search again: --seed {seed}" if seed is not None and found.failures else ""
            pytest.fail("\n\n".join(r.render(traceback=True) for r in found.errors + found.failures) + again,
                        pytrace=False)
        if found.known:
            pytest.xfail(f"{len(found.known)} known failure(s) (baseline)")
        deviation = next((r for r in found.results if r.outcome is Outcome.DEVIATION), None)
        if deviation is not None:
            self.node.stash[_RESULT] = deviation
        return found


@pytest.fixture(scope="session")
def infercheck_runner(request: pytest.FixtureRequest) -> Runner:
    return request.config.stash[_STATE].start(request.session.items)


@pytest.fixture
def infercheck(request: pytest.FixtureRequest, infercheck_runner: Runner) -> Verifier:
    return Verifier(infercheck_runner, request.node, request.config.stash[_STATE])


def pytest_configure(config: pytest.Config) -> None:
    state = config.stash[_STATE] = State(config)
    config.pluginmanager.register(state, "infercheck-state")
    preset = _preset(config)
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
    if target.tls.describe() and _preset(config) is None:  # `infercheck run` said so first
        terminalreporter.write_line(f"infercheck: {target.tls.describe()}", yellow=True)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Counts the checks of the API under test that -k (or another plugin) left out: the run is partial."""
    state = items[0].config.stash.get(_STATE, None) if items else None
    if state is None:
        return
    try:
        api, task = state.selection()
    except (TargetError, pytest.UsageError):
        return
    for item in items:
        it = item.callspec.params.get("infercheck_item") if hasattr(item, "callspec") else None
        if it is not None and selects(api, task, it.case.api, it.case.route):
            state.deselected += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or state.runner is None:
        return
    if state.interrupted:
        # Ctrl-C: what was answered is judged (nothing more is sent), and a second Ctrl-C ends the process at once
        if _preset(session.config) is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, lambda *_: os._exit(130))
        state.runner.decide_interrupted(state.wanted)
    path = value(session.config, "json")
    if path:
        try:
            doc = _report.document(target=state.session.target_info(), results=state.results,
                                   stats=state.runner.stats(), metrics=state.runner.metrics(),
                                   samples=state.runner.latency_samples(), fail_on=value(session.config, "fail_on"),
                                   interrupted=state.interrupted, deselected=state.deselected)
            _report.write(path, doc)
        except OSError as exc:  # a full disk, a path that is no file: the run is decided, the output is not
            state.unwritten.append(f"--json {path}: {exc.strerror or exc}")
        except Exception as exc:
            state.record(internal_error(exc, what=f"the results document writer ({path})", case="results"))
    path = value(session.config, "write_baseline")
    if path:
        try:
            _baseline.write(path, state.results, state.session.target_info())
        except OSError as exc:
            state.unwritten.append(f"--write-baseline {path}: {exc.strerror or exc}")
        except Exception as exc:
            state.record(internal_error(exc, what=f"the baseline writer ({path})", case="baseline"))
    # --fail-on in a plain pytest session (infercheck run decides its own exit status from the verdict)
    fail_on = value(session.config, "fail_on")
    counts = _report.summary(state.results)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not counts["errors"] and \
            _preset(session.config) is None:
        if fail_on == "never":
            session.exitstatus = pytest.ExitCode.OK
        elif fail_on == "deviation" and counts["deviations"]:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""The one table of infercheck's settings. Each is declared once: its name (the configuration file's key), what kind
of value it takes, its default, its environment variables, its help, and where it may be set. Every front end is
derived from it: ``infercheck run``'s options (cli.py), the pytest plugin's ``--infercheck-*`` options and
``infercheck_*`` ini keys (plugin.py), the configuration file's keys (_config.py) and ``infercheck compare``'s
per-target options (_compare.py).

A value arrives as text (the command line, the environment, an ini file) or as a TOML value (the configuration
file); ``Kind`` reads either, and says in words what it expected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .contract import profiles as _profiles
from .contract.tasks import TASKS
from .generation.requests import DEFAULT_MAX_EXAMPLES, DEFAULT_SHRINK_BUDGET, parse_shrink_budget
from .reports.results import FAIL_ON
from .engine.runner import DEFAULT_CONCURRENCY
from .engine.target import ALL_TASKS, APIS, DEFAULT_BREAKER, DEFAULT_LOAD_WAIT, DEFAULT_TIMEOUT
from .wire.transport import DEFAULT_MAX_BODY, DEFAULT_MAX_EVENTS, DEFAULT_MAX_RETRIES, parse_size

API_KEY_ENV = ("INFERCHECK_API_KEY", "OPENAI_API_KEY", "HF_TOKEN")  # where a key may come from, first set wins


def _number(cast: type, *, zero: bool) -> Callable[[str, str], Any]:
    """A number (``cast``: int or float) above zero, or with ``zero`` at least zero."""
    def parse(name: str, text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, not {text!r}") from None
        if value < 0 or (value == 0 and not zero):
            raise ValueError(f"{name} must be {'>= 0' if zero else 'positive'}, not {text!r}")
        return value
    return parse


def _count(name: str, text: str) -> int:
    """A whole number >= 0."""
    if not text.strip().isdigit():
        raise ValueError(f"{name} must be a whole number >= 0, not {text!r}")
    return int(text)


def _flag(name: str, text: str) -> bool:
    """A yes or no: true, 1, yes, on (any case), or false, 0, no, off."""
    said = text.strip().lower()
    if said in ("false", "0", "no", "off", ""):
        return False
    if said in ("true", "1", "yes", "on"):
        return True
    raise ValueError(f"{name} must be true or false, not {text!r}")


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {text!r}") from None


def _size(name: str, text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _strings(name: str, text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Kind:
    """What a setting takes: ``words`` (what the configuration file was expected to hold, in an error), ``parse``
    (a value from text; a ValueError says what was wrong), ``accepts`` (whether a TOML value is one)."""

    words: str
    parse: Callable[[str, str], Any]
    accepts: Callable[[Any], bool]


STRING = Kind("string", lambda name, text: text, lambda v: isinstance(v, str))
POSITIVE_INT = Kind("positive integer", _number(int, zero=False),
                    lambda v: _is_int(v) and v > 0)
POSITIVE_NUMBER = Kind("positive number", _number(float, zero=False),
                       lambda v: _is_number(v) and v > 0)
NUMBER = Kind("number >= 0", _number(float, zero=True), lambda v: _is_number(v) and v >= 0)
COUNT = Kind("integer >= 0", _count, lambda v: _is_int(v) and v >= 0)
INTEGER = Kind("integer", _integer, _is_int)
SIZE = Kind("size (bytes, or a string such as \"8MiB\")", _size,
            lambda v: (_is_int(v) and v > 0) or (isinstance(v, str) and _parses(parse_size, v)))
BOOLEAN = Kind("boolean (true or false)", _flag, lambda v: isinstance(v, bool))
STRINGS = Kind("list of strings", _strings, lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v))
SHRINK_BUDGET = Kind("string REQUESTS:SECONDS (such as \"100:60\")", lambda name, text: parse_shrink_budget(text),
                     lambda v: isinstance(v, str) and _parses(parse_shrink_budget, v))


def _parses(parse: Callable[[str], Any], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


# where a setting may be given
RUN = "run"  # an option of `infercheck run`
PLUGIN = "plugin"  # an option (--infercheck-NAME) and ini key (infercheck_NAME) of the pytest plugin
FILE = "file"  # a top-level key of the configuration file
TARGET = "target"  # a key of a [targets.NAME] table, an option of that target's `infercheck run` under compare
# the settings that say which target is checked and how each request to it is bounded: engine.target.open_target's
# keyword arguments, as run, the plugin and load give them
OPENS_TARGET = ("base_url", "api_key", "model", "timeout", "load_wait", "max_body", "max_events", "max_retries",
                "breaker", "ca_bundle", "insecure")
EVERYWHERE = frozenset({RUN, PLUGIN, FILE, TARGET})
NO_TARGET = frozenset({RUN, PLUGIN, FILE})
OUTPUT = frozenset({RUN, FILE})  # the outputs pytest writes by its own options under the plugin


@dataclass(frozen=True)
class Setting:
    name: str  # the configuration file's key; the option is --NAME, the plugin's --infercheck-NAME (dashes for _)
    kind: Kind
    help: str
    default: Any = None
    env: tuple[str, ...] = ()  # default: INFERCHECK_NAME
    where: frozenset[str] = EVERYWHERE
    param: str | None = None  # the parameter of `infercheck run`, when not the name
    choices: tuple[str, ...] = ()  # the values it may take, when they are few
    path: str | None = None  # "file" or "directory": a path to write, or "existing file": one to read
    shown_default: str | None = None  # the default as `--help` shows it, when not the value itself
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def envvars(self) -> tuple[str, ...]:
        return self.env or (f"INFERCHECK_{self.name.upper()}",)

    def parse(self, value: Any) -> Any:
        """The value of a text (or a TOML value, read as text); a ValueError says what was wrong."""
        if isinstance(value, list):
            value = ",".join(map(str, value))
        text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        found = self.kind.parse(self.name, text)
        if self.choices and found not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, not {text!r}")
        return found


_SETTINGS = (
    Setting("base_url", STRING, "OpenAI-style base URL including /v1; with --api tgi the server's root; with --task "
            "the endpoint's own URL. Omitted: the embedded reference endpoint is tested.",
            env=("INFERCHECK_BASE_URL", "OPENAI_BASE_URL")),
    Setting("api", STRING, "The API to check [default: openai, or hf with --task].", choices=APIS),
    Setting("task", STRING, f"Check a Hugging Face task endpoint: {', '.join(TASKS)}; {ALL_TASKS} checks every task "
            "at <base-url>/<task> (the embedded endpoint's /models/<task>).", choices=(*TASKS, ALL_TASKS),
            metavar="TASK"),
    Setting("load_wait", NUMBER, "Seconds a request may wait out 503 'model is loading' answers (their "
            "estimated_time).", DEFAULT_LOAD_WAIT),
    Setting("api_key", STRING, "Bearer key for the target (never printed).", env=API_KEY_ENV),
    Setting("model", STRING, "Model to test. Default: the first id from GET /models."),
    Setting("concurrency", POSITIVE_INT, "Requests in flight at once; 1 is strictly sequential.", DEFAULT_CONCURRENCY),
    Setting("timeout", POSITIVE_NUMBER, "Seconds allowed for each request, streamed body included.", DEFAULT_TIMEOUT),
    Setting("max_body", SIZE, "Bytes of one answer read at most (e.g. 8MiB, 500k); a longer one is cut there and "
            "fails.", DEFAULT_MAX_BODY, shown_default="8MiB"),
    Setting("max_events", POSITIVE_INT, "Events of one streamed answer read at most; a longer stream is cut there and "
            "fails.", DEFAULT_MAX_EVENTS),
    Setting("max_retries", COUNT, "Times one request answered 429 is sent again, after its Retry-After (within "
            "--load-wait).", DEFAULT_MAX_RETRIES),
    Setting("breaker", COUNT, "Requests in a row to one route that time out or are refused before the rest of that "
            "route's requests are not sent (each then fails: the endpoint stopped answering); 0: never.",
            DEFAULT_BREAKER),
    Setting("ca_bundle", STRING, "Verify the endpoint's TLS certificate against the CAs in this PEM file alone (a "
            "private CA).", path="existing file"),
    Setting("insecure", BOOLEAN, "Do not verify the endpoint's TLS certificate (the report says so; curl commands "
            "carry -k).", False),
    Setting("profile", STRING, f"Which documented variations count as deviations: {', '.join(_profiles.names())}, or "
            "a path to a profile .toml.", _profiles.DEFAULT, where=NO_TARGET | {TARGET}),
    Setting("max_requests", POSITIVE_INT, "Send at most this many requests (discovery included); the cases beyond "
            "are skipped."),
    Setting("max_tokens", POSITIVE_INT, "Generate at most this many completion tokens in all (counted from usage or "
            "the stream; each request reserves its max_tokens x n first): a hard ceiling; the requests beyond are "
            "skipped."),
    Setting("max_failures", POSITIVE_INT, "Stop sending once this many checks failed (-x: 1); the answers already "
            "in are judged, the rest are not run and the verdict says so.", where=NO_TARGET),
    Setting("max_examples", POSITIVE_INT, f"Generated requests per property suite [default: {DEFAULT_MAX_EXAMPLES}, "
            "or the hypothesis profile's]."),
    Setting("shrink_budget", SHRINK_BUDGET, "After a property suite's first failure, at most REQUESTS:SECONDS more "
            "of it (shrinking); 0 shrinks nothing.", DEFAULT_SHRINK_BUDGET, where=NO_TARGET,
            shown_default=f"{DEFAULT_SHRINK_BUDGET[0]}:{DEFAULT_SHRINK_BUDGET[1]:g}", metavar="REQUESTS:SECONDS"),
    Setting("seed", INTEGER, "Seed of the property suites, to repeat a run exactly [default: random, printed].",
            where=NO_TARGET),
    Setting("hypothesis_profile", STRING, "Hypothesis settings for the property suites: ci (derandomized) or "
            "thorough (200 per property).", where=NO_TARGET),
    Setting("json", STRING, "Write the results document here.", where=NO_TARGET, param="json_path", path="file"),
    Setting("junit", STRING, "Write a JUnit XML report here.", where=OUTPUT, param="junit_path", path="file"),
    Setting("allure", STRING, "Write Allure results here.", where=OUTPUT, param="allure_dir", path="directory"),
    Setting("markdown", STRING, "Write a Markdown summary here (verdict, counts, latency, failures with their curl), "
            "fit for $GITHUB_STEP_SUMMARY.", where=OUTPUT, param="markdown_path", path="file"),
    Setting("html", STRING, "Write the run as a self-contained HTML page here (the comparison page, for one target).",
            where=OUTPUT, param="html_path", path="file"),
    Setting("fail_on", STRING, "Which outcomes give exit 1: failures, failures and deviations, or none. Internal "
            "errors always give exit 2.", "failed", where=NO_TARGET, choices=FAIL_ON),
    Setting("baseline", STRING, "Report the failures this baseline records as known (not failing the run), and "
            "those of them that now pass.", where=NO_TARGET, param="baseline_path", path="file"),
    Setting("write_baseline", STRING, "Write this run's failures (by case and check, each with a reason to fill in) "
            "to a baseline.", where=NO_TARGET, path="file"),
    Setting("fault", STRINGS, "Plant a fault in the embedded endpoint (repeatable; for demonstrations and "
            "self-tests).", (), where=frozenset({RUN, PLUGIN, TARGET}), param="faults"),
)
SETTINGS: dict[str, Setting] = {s.name: s for s in _SETTINGS}


def where(place: str) -> list[Setting]:
    """The settings that may be given in ``place`` (RUN, PLUGIN, FILE, TARGET), in the table's order."""
    return [s for s in _SETTINGS if place in s.where]


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in _SETTINGS}

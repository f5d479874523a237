"""What a property suite sends: its requests drawn by hypothesis up front, each as a synthetic case
(``property.<route>.<polarity>[mutation]``), the shrinker of its failures, and what the suites cost at most."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as Settings
from hypothesis.errors import Unsatisfiable

from ..contract.cases import Case
from ..contract.profiles import Profile
from . import shrink as _shrink
from .negative import Mutation, negative
from .positive import bundled, positive, positive_schema, strategy
from .routes import ROUTES, Property, properties

DEFAULT_MAX_EXAMPLES = 20

DEFAULT_SHRINK_BUDGET = (400, 120.0)  # per suite, after its first failure: requests, seconds


def parse_shrink_budget(text: str) -> tuple[int, float]:
    """``REQUESTS:SECONDS`` (``100:60``), or ``REQUESTS`` alone (the default seconds); ``0`` shrinks nothing."""
    requests, _, seconds = text.strip().partition(":")
    try:
        budget = (int(requests), float(seconds) if seconds else DEFAULT_SHRINK_BUDGET[1])
    except ValueError:
        raise ValueError(f"shrink budget {text!r}: expected REQUESTS:SECONDS, such as 100:60") from None
    if budget[0] < 0 or budget[1] < 0:
        raise ValueError(f"shrink budget {text!r}: requests and seconds must be >= 0")
    return budget


def case_for(prop: Property, body: dict[str, Any], mutation: Mutation | None = None) -> Case:
    route = ROUTES[prop.route]
    name = f"property.{prop.id}" + (f"[{mutation}]" if mutation else "")
    stream = prop.polarity == "positive" and body.get("stream") is True
    endpoint = route.endpoint or prop.route
    if prop.polarity == "positive":
        return Case(name, f"generated {prop.route} request", endpoint, "POST", route.path, body=body,
                    stream=stream, status=(200,), schema=None if stream else route.response,
                    chunk_schema=route.chunk if stream else None,
                    tags=frozenset({"generated"}), api=route.api, error_schema=route.error_schema)
    return Case(name, f"generated invalid {prop.route} request", endpoint, "POST", route.path, body=body,
                status=("4xx",), tags=frozenset({"generated"}), api=route.api, error_schema=route.error_schema)


def draws(prop: Property, *, model: str, profile: Profile, base: Settings, max_examples: int,
          seed: int | None) -> list[Any]:
    """The requests a suite sends first, drawn by hypothesis up front (nothing is sent while drawing, so a seed
    always draws the same ones): bodies for a positive suite, (body, mutation, original) for a negative one."""
    source = positive(prop.route, model, profile) if prop.polarity == "positive" else negative(
        prop.route, model, profile)
    drawn: list[Any] = []

    def keep(example: Any) -> None:
        drawn.append(example)

    test = given(source)(keep)
    test = Settings(base, max_examples=max_examples, deadline=None, database=None, verbosity=Verbosity.quiet,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))(test)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Unsatisfiable:
        pass  # fewer than asked for: what was drawn is sent
    return drawn


@cache
def shrinker(route: str, model: str, lacking: tuple[str, ...]) -> _shrink.Shrinker:
    schema = positive_schema(route, model, lacking)
    return _shrink.Shrinker(schema, lambda node: strategy(node, schema.get("$defs", {})))


def cost(max_examples: int = DEFAULT_MAX_EXAMPLES) -> dict[str, int]:
    """What the property suites cost at most from a conformant endpoint (nothing to shrink): requests, and
    completion tokens as the positive schemas bound them (the limit x n x prompts per request)."""
    tokens = 0
    for route in (r for r in ROUTES.values() if r.api == "openai"):
        fields = bundled(route.positive)["properties"]
        limit = max((fields[name]["maximum"] for name in ("max_tokens", "max_completion_tokens", "max_output_tokens")
                     if name in fields), default=0)
        prompts = max((b.get("maxItems", 1) for b in fields["prompt"]["anyOf"] if b.get("type") == "array"),
                      default=1) if "prompt" in fields else 1
        tokens += max_examples * limit * fields.get("n", {}).get("maximum", 1) * prompts
    return {"requests": max_examples * len(properties(api="openai")), "completion_tokens": tokens,
            "shrinking": DEFAULT_SHRINK_BUDGET[0]}

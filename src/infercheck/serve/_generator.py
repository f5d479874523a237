"""A deterministic tiny text generator: no weights, just a seeded walk over a word list.

Tokens are words with their leading space, or single punctuation marks. With
temperature 0 the text depends only on the prompt (greedy decoding is
deterministic); with a seed it depends on prompt, seed and choice index;
otherwise it is random.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\s*[\w']+|\s*[^\w\s]|\s+")
WORDS = (
    "the a an this that it is was be to of and in on for with as at by from love test model token "
    "answer question light water time world people day way thing life hand part place case point "
    "group number fact idea word good new first last long great little own other old right big high "
    "small large next early young important few public bad same able helpful simple clear quiet"
).split()
NATURAL_LENGTH = (6, 40)  # tokens before the generator "decides" to stop
CONTEXT_LENGTH = 4096


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count_tokens(prompt: str | list) -> int:
    """Token count of a prompt: text is tokenized, a list of token ids counts itself."""
    if isinstance(prompt, str):
        return max(1, len(tokenize(prompt)))
    return len(prompt)


@dataclass
class Generation:
    tokens: list[str]  # the output pieces; "".join(tokens) is the text
    finish_reason: str  # "stop" or "length"
    count: int = 0  # tokens generated, the one that completed a stop sequence included
    logprobs: list[float] = field(default_factory=list)
    top: list[list[tuple[str, float]]] = field(default_factory=list)  # alternatives, best first

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def _rng(prompt: str, temperature: float, seed: int | None, index: int) -> random.Random:
    if temperature == 0:
        material = f"greedy|{prompt}"
    elif seed is not None:
        material = f"seed|{seed}|{index}|{prompt}"
    else:
        return random.Random()
    return random.Random(int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "big"))


def generate(
    prompt: str,
    *,
    max_tokens: int | None,
    temperature: float = 1.0,
    seed: int | None = None,
    index: int = 0,
    stop: list[str] | tuple[str, ...] = (),
    top_logprobs: int = 0,
    lead: str = " ",
) -> Generation:
    """Generate up to ``max_tokens`` tokens; ``lead`` is the first token's leading space."""
    rng = _rng(prompt, temperature, seed, index)
    words = [rng.choice(WORDS) for _ in range(rng.randint(*NATURAL_LENGTH) - 1)]
    planned = [lead + words[0].capitalize()] + [" " + w for w in words[1:]] + ["."]
    out = Generation([], "stop")
    stops = [s for s in stop if s]
    for token in planned:
        if max_tokens is not None and out.count >= max_tokens:
            out.finish_reason = "length"
            break
        out.count += 1
        out.tokens.append(token)
        out.logprobs.append(_logprob(rng))
        out.top.append(_alternatives(rng, token, out.logprobs[-1], top_logprobs))
        text = out.text
        hits = [i for i in (text.find(s) for s in stops) if i >= 0]
        if hits:
            _truncate(out, min(hits))  # the stop sequence is not part of the output
            out.finish_reason = "stop"
            return out
    if max_tokens is not None and out.count >= max_tokens:
        out.finish_reason = "length"  # the text ended where the limit is: the limit, not the text, ended it
    return out


def _truncate(out: Generation, length: int) -> None:
    """Cut the output pieces so that their text is ``length`` characters long."""
    kept, total = 0, 0
    while kept < len(out.tokens) and total + len(out.tokens[kept]) <= length:
        total += len(out.tokens[kept])
        kept += 1
    if total < length:
        out.tokens[kept] = out.tokens[kept][: length - total]
        kept += 1
    del out.tokens[kept:], out.logprobs[kept:], out.top[kept:]


def _logprob(rng: random.Random) -> float:
    return round(-rng.random() * 1.5, 6)


def _alternatives(rng: random.Random, token: str, logprob: float, k: int) -> list[tuple[str, float]]:
    if k <= 0:
        return []
    alts = [(token, logprob)]
    pool = [" " + w for w in WORDS if " " + w != token]
    for i, word in enumerate(rng.sample(pool, k - 1)):
        alts.append((word, round(logprob - 0.5 - i - rng.random(), 6)))
    return alts


def embed(text: str, dimensions: int) -> list[float]:
    """A unit vector that depends only on the text."""
    rng = random.Random(int.from_bytes(hashlib.sha256(f"embed|{text}".encode()).digest()[:8], "big"))
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]

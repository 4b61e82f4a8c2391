"""Hypothesis strategies that damage recorded payloads: wrong types at any path, NUL, depth, size.

A mutated document is serialized with placeholders standing for what json.dumps cannot
write (nesting thousands deep): ``render`` swaps them in on the final bytes, after any
signer has parsed the body, so a body can be both authentic and poisonous.
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

DEEP = "\u2063deep\u2063"  # placeholder for a value nested DEPTH levels
DEPTH = 5_000

_LEAVES = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "a\x00b", "\x00", "\ud800", "x" * 5_000, "9" * 400, "1e999", "<x>", "null",
                     "2024-13-45T99:99:99Z", "-1", "[", "{"]),
)
WRONG_VALUES = st.one_of(
    _LEAVES,
    st.lists(_LEAVES, max_size=3),
    st.dictionaries(st.text(max_size=6), _LEAVES, max_size=3),
    st.just(DEEP),
)


def paths(document: Any, prefix: tuple = (), limit: int = 8) -> list[tuple]:
    """Every path (a tuple of keys and indexes) below ``document``'s root."""
    found = []
    if len(prefix) >= limit:
        return found
    if isinstance(document, dict):
        items = document.items()
    else:
        items = enumerate(document) if isinstance(document, list) else ()
    for key, value in items:
        found.append((*prefix, key))
        found.extend(paths(value, (*prefix, key), limit))
    return found


@st.composite
def mutated(draw, document: Any, max_mutations: int = 3) -> Any:
    """``document`` (a decoded JSON value, not changed) with 1..max_mutations paths damaged."""
    result = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, max_mutations))):
        candidates = paths(result)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = result
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "nul"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "nul" and isinstance(parent[path[-1]], str):
            value = parent[path[-1]]
            cut = draw(st.integers(0, len(value)))
            parent[path[-1]] = value[:cut] + "\x00" + value[cut:]
        else:
            parent[path[-1]] = draw(WRONG_VALUES)
    return result


def dumps(document: Any) -> str:
    """JSON text of a mutated document, placeholders still in (as strings)."""
    return json.dumps(document)  # ASCII: lone surrogates travel escaped, as any JSON sender writes them


def render(text: str | bytes) -> str | bytes:
    """Swap each placeholder for a value nested DEPTH levels (JSON-escaped or not)."""
    deep = "[" * DEPTH + "]" * DEPTH
    if isinstance(text, bytes):
        return text.replace(json.dumps(DEEP, ensure_ascii=False).encode(), deep.encode()).replace(
            json.dumps(DEEP).encode(), deep.encode())
    return text.replace(json.dumps(DEEP, ensure_ascii=False), deep).replace(json.dumps(DEEP), deep)

"""Checking timelines against the published JSON Schema (``src/vidlens/schema/timeline.schema.json``).

The published schema is open (a reader ignores fields it does not know, so adding one breaks no reader).
The tests validate in a **strict** mode instead: every object schema that lists its ``properties`` and does
not say otherwise gets ``additionalProperties: false``, so a section or field that vidlens writes without
describing it in the schema fails the test that produced it. Free-form maps say so explicitly in the schema
(``additionalProperties`` with a value schema, or ``true`` for analyzer parameters) and stay as they are.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from vidlens.timeline import Timeline, schema


def strict(node: Any) -> Any:
    """``node`` (a schema) with ``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(node, dict):
        out = {key: strict(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(value) for value in node]
    return node


@cache
def validator(strict_mode: bool = True) -> jsonschema.Draft202012Validator:
    published = schema()
    return jsonschema.Draft202012Validator(strict(published) if strict_mode else published)


def errors(timeline: Timeline | dict[str, Any], *, strict_mode: bool = True) -> list[str]:
    """Every violation as ``path: message`` (empty when the timeline is valid)."""
    data = json.loads(timeline.to_json()) if isinstance(timeline, Timeline) else timeline
    found = sorted(validator(strict_mode).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:300]}" for e in found]


def assert_valid(timeline: Timeline | dict[str, Any]) -> None:
    """Fail with every violation listed (strict mode: undescribed sections and fields count)."""
    problems = errors(timeline)
    assert not problems, "timeline does not match src/vidlens/schema/timeline.schema.json:\n" + "\n".join(
        problems[:30])

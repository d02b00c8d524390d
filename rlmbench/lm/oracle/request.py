"""A request as DSPy's adapters write it, read and answered in the same format: the `[[ ## name ## ]]` sections of
ChatAdapter (or JSONAdapter's object), the output fields the system prompt asks for, the inputs it shows.

This is the one place that knows DSPy's wire format; the roles read requests through it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rlmbench.tasks.task import TaskSchema


class OracleError(RuntimeError):
    """The oracle was asked something it has no scripted answer for."""


_SECTION = re.compile(r"^\[\[ ## (\w+) ## \]\]$", re.MULTILINE)


_RESPOND = "\n\nRespond with "


def content_text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def parse_sections(text: str) -> dict[str, str]:
    """Split a ChatAdapter message into its `[[ ## name ## ]]` sections (nested trajectory keys included)."""
    text = text.split(_RESPOND, 1)[0]
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def output_fields(system: str) -> list[str]:
    block = system.split("Your output fields are:", 1)[-1].split("All interactions will be structured", 1)[0]
    return re.findall(r"^\d+\. `(\w+)`", block, re.MULTILINE)


def formatted(fields: dict[str, Any], as_json: bool = False) -> str:
    """The reply in the format the adapter asked for: ChatAdapter's sections, or JSONAdapter's object."""
    if as_json:
        return json.dumps(fields)
    body = "\n\n".join(f"[[ ## {name} ## ]]\n{value if isinstance(value, str) else json.dumps(value)}"
                       for name, value in fields.items())
    return body + "\n\n[[ ## completed ## ]]"


def load_list(raw: str, what: str) -> list:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OracleError(f"oracle could not read `{what}` as JSON: {raw[:80]!r}") from exc
    if not isinstance(value, list):
        raise OracleError(f"oracle expected `{what}` to be a list")
    return value


def request_inputs(schema: TaskSchema, sections: dict[str, str]) -> dict[str, list[str]]:
    return {spec.name: [str(v) for v in load_list(sections.get(spec.name, "[]"), spec.name)]
            for spec in schema.lists}

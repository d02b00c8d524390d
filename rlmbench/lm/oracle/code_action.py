"""The oracle as a code-writing agent's model (smolagents' CodeAgent): asked, without tools, for a thought and a code
block in the tags its system prompt names, with a `final_answer` function to end with.

- First step: the cell RLM Direct's oracle writes (oracle.code.check_code: every required check in loops, the typed
  answer built in variables).
- Next step: `final_answer` of a dict of those variables, one per field the task's text asks for.

Two LM calls, as RLM Direct's two (the cell, then SUBMIT), so the two code arms differ by their framework, not by
their oracle. It reads the task's fields from the task's text in the first user message, as a model reads them.
"""

from __future__ import annotations

import re

from rlmbench.lm.adapter_text import message_text
from rlmbench.lm.oracle.code import check_code
from rlmbench.lm.oracle.request import OracleError
from rlmbench.tasks.prompt import answer_names_in
from rlmbench.tasks.task import TaskSchema

_CODE_TAGS = re.compile(r"code sequence must be opened with '([^']+)', and closed with '([^']+)'")
"""How smolagents' CodeAgent prompt names its code block's tags (`<code>`, `</code>` by default)."""


def code_tags(system: str) -> tuple[str, str] | None:
    """The code block's opening and closing tags a system prompt asks for, when it asks for code ending with
    `final_answer`; None for any other request."""
    tags = _CODE_TAGS.search(system)
    return (tags.group(1), tags.group(2)) if tags and "final_answer" in system else None


def code_action(schema: TaskSchema, messages: list[dict], first_user: str, tags: tuple[str, str]) -> str:
    """The reply's text: a thought and one code block."""
    opening, closing = tags
    names = answer_names_in(first_user)
    if not names:
        raise OracleError("oracle found no answer fields in the task's text (send the task's prompt)")
    steps = sum(opening in message_text(m.get("content")) for m in messages if m.get("role") == "assistant")
    if steps == 0:
        thought, code = ("Loop over every required check with the tools, and collect the findings.",
                         check_code(schema))
    else:
        thought = "The loop ran and collected its findings; return them."
        code = "final_answer({" + ", ".join(f"{name!r}: {name}" for name in names) + "})"
    return f"Thought: {thought}\n{opening}\n{code}\n{closing}"

"""The task's tools as smolagents tools: the name, description and typed inputs smolagents writes into its prompts.

Each calls the task's tool (the ledger's, with its latency and failures). A JSON tool's dict comes back as its JSON
text for the ToolCallingAgent: smolagents shows a model `str()` of a result, and a Python repr of a dict is not what
a JSON API returns (DSPy's arms see the same JSON text). The CodeAgent's code gets the dict itself, through the
sandbox's bridge, as RLM Direct's does.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

from smolagents import Tool


def _output_type(tool: Callable[..., Any], as_text: bool) -> str:
    return "object" if inspect.signature(tool).return_annotation is dict and not as_text else "string"


def smol_tool(tool: Callable[..., Any], as_text: bool) -> Tool:
    """`tool` as a smolagents Tool; `as_text`: a dict answer comes back as JSON text (the ToolCallingAgent's)."""
    names = list(inspect.signature(tool).parameters)

    class TaskTool(Tool):
        skip_forward_signature_validation = True  # forward takes the task's arguments by name, whatever they are
        name = tool.__name__
        description = inspect.getdoc(tool) or tool.__name__
        inputs = {n: {"type": "string", "description": f"the {n.replace('_', ' ')}"} for n in names}
        output_type = _output_type(tool, as_text)

        def forward(self, **kwargs: Any) -> Any:
            answer = tool(**kwargs)
            return json.dumps(answer) if as_text and isinstance(answer, (dict, list)) else answer

    return TaskTool()

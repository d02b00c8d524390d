"""What DSPy 3.4.1's adapters and modules write into a request, recognised by the oracle, the call log and the trace
readers."""

JSON_REQUEST = "Respond with a JSON object"
"""JSONAdapter's closing instruction; ChatAdapter asks for `[[ ## field ## ]]` sections instead."""


def message_text(content: object) -> str:
    """The text of a chat message's content: a string, or a list of parts (`{"type": "text", "text": ...}`)."""
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return "" if content is None else str(content)


def is_json_request(last_user_message: str) -> bool:
    """Whether a request asks for DSPy's JSON format (the instruction closes the last user message)."""
    return JSON_REQUEST in last_user_message[-600:]


TOOL_ERROR = "Execution error in "
"""How DSPy's ReAct reports a tool call that failed before or inside the tool."""
TRAJECTORY_TRUNCATED = "Trajectory exceeded the context window"
"""What DSPy's ReAct logs before it drops the oldest tool calls from its trajectory and asks again."""
TRAJECTORY_ENDED = "Ending the trajectory"
"""What DSPy's ReAct logs when a step failed (a context window exceeded even so, an invalid tool), with a
traceback."""
RUN_MESSAGES = {"dspy.predict.react": (TRAJECTORY_TRUNCATED, TRAJECTORY_ENDED),
                "dspy.predict.react_v2": ("Ending ReActV2 loop", "Forced submit failed")}
"""Logger -> the starts of what that DSPy module logs about the run it serves (with tracebacks, some of them): kept
in the run's trace rather than on stderr (run.dspy_messages)."""

"""What DSPy 3.4.1's adapters and modules write into a request, recognised by the oracle, the call log and the trace
readers."""

JSON_REQUEST = "Respond with a JSON object"
"""JSONAdapter's closing instruction; ChatAdapter asks for `[[ ## field ## ]]` sections instead."""


def is_json_request(last_user_message: str) -> bool:
    """Whether a request asks for DSPy's JSON format (the instruction closes the last user message)."""
    return JSON_REQUEST in last_user_message[-600:]


TOOL_ERROR = "Execution error in "
"""How DSPy's ReAct reports a tool call that failed before or inside the tool."""

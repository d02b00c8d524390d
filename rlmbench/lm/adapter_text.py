"""What DSPy 3.4.1's adapters write into a request, recognised by the oracle and by the call log."""

JSON_REQUEST = "Respond with a JSON object"
"""JSONAdapter's closing instruction; ChatAdapter asks for `[[ ## field ## ]]` sections instead."""


def is_json_request(last_user_message: str) -> bool:
    """Whether a request asks for DSPy's JSON format (the instruction closes the last user message)."""
    return JSON_REQUEST in last_user_message[-600:]

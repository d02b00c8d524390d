"""The oracle as a DSPy engine: `dspy.LM(..., engine=OracleEngine(schema))` receives the same system and user
messages a hosted model would, through DSPy's real adapters, and answers as the roles say, with real token counts.
"""

from __future__ import annotations

from dspy.lm15 import ContextLengthError, Message, Response, TextPart, Usage, response_to_events

from rlmbench.lm.oracle.request import OracleError, content_text
from rlmbench.lm.oracle.roles import respond
from rlmbench.lm.settings import ORACLE_CONTEXT_WINDOW, ORACLE_MODEL_NAME
from rlmbench.lm.tokens import count_tokens, load_encoding
from rlmbench.lm.windows import window_refusal
from rlmbench.tasks.task import TaskSchema


class OracleEngine:
    """A `dspy.LM` engine: complete(Request) -> Response, with real token counts."""

    def __init__(self, schema: TaskSchema, window: int = ORACLE_CONTEXT_WINDOW) -> None:
        self.schema = schema
        self.window = window
        """The largest prompt it takes; a larger one is refused as a provider refuses it (DSPy's ReAct then
        truncates its trajectory, as it would against the provider)."""
        load_encoding()  # load the tokenizer now, not inside the first timed run

    def complete(self, request):
        system = content_text(request.system)
        messages = [content_text(m.parts) for m in request.messages]
        prompt_tokens = count_tokens(system) + sum(count_tokens(m) for m in messages)
        if prompt_tokens > self.window:
            raise ContextLengthError(window_refusal(self.window, prompt_tokens))
        user = next((text for m, text in zip(reversed(request.messages), reversed(messages)) if m.role == "user"), "")
        text = respond(self.schema, system, user, "\n\n".join(messages))
        usage = Usage(input_tokens=prompt_tokens, output_tokens=count_tokens(text))
        return Response(id=None, model=ORACLE_MODEL_NAME, message=Message.assistant([TextPart(text)]),
                        finish_reason="stop", usage=usage)

    def stream(self, request):
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass

    def dump_state(self) -> dict:
        return {}

    @classmethod
    def load_state(cls, state: dict) -> "OracleEngine":
        raise OracleError("an oracle engine is built for a task schema; build it with OracleEngine(schema)")

"""A deterministic offline model that plays every arm's model role perfectly, for any task.

It knows the task's *schema* (lists, tools, how each tool phrases its answers, the risk rule), never its ground
truth: what it reports, it reads from the tool results in the conversation, like a model would. Because its choices
are perfect and free, its numbers measure each architecture's own cost (LM calls, prompt growth, sandbox and harness
time), never a model's judgement.

One concern a module:
- `request`: DSPy's wire format, read and written (sections, output fields, the inputs shown);
- `answers`: reading tool answers back from a conversation, and the typed answer they support;
- `code`: the Python it writes when asked for code;
- `roles`: one role per way of being asked, each choosing itself from the request;
- `engine`: the oracle as a DSPy engine (`dspy.LM(..., engine=OracleEngine(schema))`);
- `server`: the tests' OpenAI-compatible HTTP server, which answers with the roles unless a test scripts a reply.
"""

ORACLE_NOTICE = (
    "Offline oracle model: these numbers measure each architecture's own cost "
    "(LM calls, prompt growth, sandbox and harness time), not any model's quality."
)
"""Said under every summary of an invocation that ran the oracle."""

"""smolagents' CodeAgent with its code run in the benchmark's own Deno/Pyodide sandbox, not in this process.

smolagents' default executor evaluates the model's code inside the host process (its docs: not a security sandbox),
and its remote executors redefine the tools inside their sandbox from source, out of the ledger's reach. Its seam is
a `PythonExecutor`; this one runs each code action in an interpreter of the run's pool (AgentTask.sandbox: the warm
pool RLM Direct uses, cells logged, stopped at --timeout), the tools called on the host over DSPy's bridge, so both
code arms pay the same sandbox cost and keep the same isolation.

What smolagents' executor contract asks, and how it is kept:
- `final_answer(answer)` ends the step with the answer: DSPy's SUBMIT (a control-flow exception the runner turns into
  a result), defined once per interpreter by a setup cell that is the harness's, not the model's (it is not logged).
- The printed output and the value of the code's last expression: the last expression's value is printed after a
  separator, as DSPy's runner returns one or the other, never both.
- Variables persist between steps (one interpreter per run); `send_variables` passes the inputs with the next code.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

from dspy.primitives.code_interpreter import CodeExecutionError, CodeInterpreterError, FinalOutput
from smolagents.local_python_executor import CodeOutput, PythonExecutor
from smolagents.tools import Tool

_ANSWER = "answer"
_SETUP = f"def final_answer({_ANSWER}):\n    SUBMIT({_ANSWER})\n"
"""smolagents' `final_answer` in the sandbox: SUBMIT of the output field `answer`."""
_VALUE = "\x1e"
"""Separates the code's printed output from the value of its last expression (a control character no print holds)."""
_LAST = "_smolagents_last_value"


def _with_last_value(code: str) -> str:
    """The code, with the value of its last expression (if any, and not None) printed after _VALUE."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return code  # the sandbox says what is wrong with it, as it would with any code
    if not body or not isinstance(body[-1], ast.Expr):
        return code
    lines = code.splitlines()
    last = body[-1]
    head = "\n".join(lines[:last.lineno - 1] + [lines[last.lineno - 1][:last.col_offset]])
    expression = ast.get_source_segment(code, last)
    return (f"{head}{_LAST} = ({expression})\n"
            f"if {_LAST} is not None:\n    print({_VALUE!r} + str({_LAST}), end='')\n")


class SandboxLost(BaseException):
    """The sandbox itself failed (it died, or the run's budget stopped it): the run ends, as RLM Direct's does.
    A BaseException, so smolagents does not show it to the model as the code's own error and go on; the arm raises
    the interpreter's error (`cause`) in its place."""

    def __init__(self, cause: CodeInterpreterError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class SandboxExecutor(PythonExecutor):
    """A PythonExecutor over one interpreter of the run's sandbox pool."""

    def __init__(self, new_interpreter: Callable[[], Any]) -> None:
        self._new = new_interpreter
        self.interpreter: Any = None
        self._variables: dict[str, Any] = {}

    def _ready(self) -> Any:
        if self.interpreter is None:
            self.interpreter = self._new()
            self.interpreter.output_fields = [{"name": _ANSWER}]
            self.interpreter._tools_registered = False
            type(self.interpreter).execute(self.interpreter, _SETUP)  # the class's execute: not a logged cell
        return self.interpreter

    def send_tools(self, tools: dict[str, Tool]) -> None:
        """The task's tools are the interpreter's already (AgentTask.sandbox); `final_answer` is the setup's."""
        unknown = set(tools) - {"final_answer"} - set(self._ready().tools)
        if unknown:
            raise ValueError(f"tools the sandbox does not have: {sorted(unknown)}")

    def send_variables(self, variables: dict[str, Any]) -> None:
        self._variables.update(variables)

    def __call__(self, code_action: str) -> CodeOutput:
        variables, self._variables = self._variables, {}
        try:
            result = self._ready().execute(_with_last_value(code_action), variables)
        except CodeExecutionError as exc:  # the model's code raised: smolagents shows the model the error
            raise RuntimeError(str(exc)) from None
        except CodeInterpreterError as exc:
            raise SandboxLost(exc) from exc
        if isinstance(result, FinalOutput):
            return CodeOutput(output=result.output.get(_ANSWER), logs="", is_final_answer=True)
        printed, _, value = str(result or "").partition(_VALUE)
        return CodeOutput(output=value or None, logs=printed, is_final_answer=False)

    def cleanup(self) -> None:
        if self.interpreter is not None:
            self.interpreter.shutdown()
            self.interpreter = None

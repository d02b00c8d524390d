"""The shapes of an approach's trace, and what can be read from each: one class per shape.

Every approach returns its steps in a trace of its own shape (a ReAct trajectory, RLM iterations,
a plan and its executor's steps, ReActV2 turns). The approach's registry entry names its
`TraceKind`, and that kind is the one place that knows the shape: how many steps were used, whether
the agent ended on its own, which steps hit a tool error, and which sections of steps the report
draws. The diagnostics and the HTML report ask the kind and never look at trace keys themselves,
so an approach with a new shape adds a kind here and nothing elsewhere. No DSPy is imported: the
report reads traces from files.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from rlmbench.lm.adapter_text import TOOL_ERROR
from rlmbench.results.records import LMCall
from rlmbench.tasks.tools import REACHED_THE_TOOL

SectionKind = Literal["react_steps", "code_iterations", "plan", "tool_turns"]
"""How the report draws a section: a table of thought/tool/arguments/observation; code cells with
their reasoning and output; a list of planned calls; turns of parallel tool calls."""



def _not_the_agents(text: str) -> bool:
    return any(name in text for name in REACHED_THE_TOOL)


@dataclass(frozen=True)
class TraceSection:
    """One part of a run's steps as the report draws it."""

    title: str
    kind: SectionKind
    items: Any
    """The trace's own data for this part (a trajectory dict, or a list)."""
    open: bool = False
    """Drawn expanded."""


def reasked(lm_calls: list[LMCall]) -> list[int]:
    """LM calls that re-asked in JSON after DSPy's ChatAdapter could not parse the reply before them."""
    return [c.index for prev, c in zip(lm_calls, lm_calls[1:]) if c.request_format == "json"
            and prev.request_format == "chat"]


_CALL_START = re.compile(r'\{\s*"name"\s*:')
_TOOL_CALLS_FIELD = re.compile(r"\[\[ ## tool_calls ## \]\](.*?)(?:\[\[ ## |\Z)", re.S)


def _calls_in(value: Any) -> int:
    if isinstance(value, dict):
        return _calls_in(value["tool_calls"]) if "tool_calls" in value else int("name" in value)
    return len(value) if isinstance(value, list) else 0


def calls_asked_for(reply: str) -> int:
    """Tool calls a reply's `tool_calls` field asks for, however malformed its JSON: every JSON value in it
    (several objects one after another count each), then, in a part that does not parse, each object that
    starts with a "name"."""
    field = _TOOL_CALLS_FIELD.search(reply)
    text, decoder, at, count = (field.group(1) if field else reply), json.JSONDecoder(), 0, 0
    while (start := next((i for i in range(at, len(text)) if text[i] in "{["), None)) is not None:
        try:
            value, at = decoder.raw_decode(text, start)
        except ValueError:
            return count + len(_CALL_START.findall(text, start))
        count += _calls_in(value)
    return count


def step_replies(lm_calls: list[LMCall]) -> list[str]:
    """The reply each step ran on: answered calls in order, a re-asked reply replaced by its re-ask's."""
    again = set(reasked(lm_calls))
    answered = [c for c in lm_calls if c.error is None and not c.cancelled]
    return [c.reply or "" for c, after in zip(answered, [*answered[1:], None])
            if not (after is not None and after.index in again)]


def answered_steps(lm_calls: list[LMCall]) -> int:
    """LM calls that came back with a reply and were not a re-ask: one per step of a ReAct-like loop."""
    again = set(reasked(lm_calls))
    return sum(c.error is None and not c.cancelled and c.index not in again for c in lm_calls)


class TraceKind(ABC):
    """What one trace shape says; a registry entry without one cannot be built."""

    name: str
    """Recorded in the results header for each arm, so a report finds the kind without the runtime."""
    step_word: str
    """What a step is called in this shape (`steps`, `iterations`, `turns`)."""
    truncates_trajectory: bool = False
    """DSPy's ReAct cuts its trajectory to fit the context window (its log says when: run.dspy_messages)."""

    @abstractmethod
    def steps_used(self, trace: dict) -> int | None:
        """Steps the agent took; None when the trace did not come back (a timed-out run)."""

    @abstractmethod
    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        """Steps taken, counted from what the run logged as it went (tool ledger, LM calls, code cells): for a
        run whose trace did not come back, what it had done when it ended."""

    def progress(self, tool_calls: int, lm_calls: list[LMCall], cells: int, limits: tuple[int | None, ...]) -> str:
        """`steps 12/40`: the live progress line's count, in this shape's words and against the arm's limits
        (agents.approach.Approach.limits: the step limit first)."""
        return f"{self.step_word} {self.steps_from_log(tool_calls, lm_calls, cells)}/{limits[0] or '?'}"

    @abstractmethod
    def ended_by_agent(self, trace: dict) -> bool | None:
        """True: the agent ended on its own; False: it hit its step limit; None: unknown."""

    @abstractmethod
    def tool_error_steps(self, trace: dict) -> list[int]:
        """1-based steps whose tool call failed before or inside the tool."""

    @abstractmethod
    def sections(self, trace: dict) -> list[TraceSection]:
        """The parts of the steps the report draws, in order; [] when the trace has none."""

    def unknown_tools(self, trace: dict, tool_names: set[str]) -> list[str]:
        """Tool names the agent asked for that do not exist, where the shape records them apart."""
        return []

    def submitted(self, trace: dict) -> bool | None:
        """For an RLM: False when SUBMIT was never called and DSPy forced an answer; None elsewhere."""
        return None

    def dropped_calls(self, trace: dict, lm_calls: list[LMCall]) -> list[int] | None:
        """Steps whose reply asked for more tool calls than were run, once per call dropped; None where a
        reply cannot ask for several (or the trace did not come back)."""
        return None

    def unparsed_steps(self, trace: dict) -> list[int] | None:
        """Steps whose reply the framework could not parse and showed the model an error instead; None where the
        shape does not record it (DSPy re-asks instead: Diagnostics.reasked)."""
        return None


def _react_tool_names(trajectory: Any) -> list[str] | None:
    if not isinstance(trajectory, dict):
        return None
    return [v for k, v in trajectory.items() if k.startswith("tool_name_")]


def _react_errors(trajectory: Any) -> list[int]:
    if not isinstance(trajectory, dict):
        return []
    return [int(k.rsplit("_", 1)[1]) + 1 for k, v in trajectory.items()
            if k.startswith("observation_") and isinstance(v, str) and v.startswith(TOOL_ERROR)
            and not _not_the_agents(v)]


class ReActTrace(TraceKind):
    """dspy.ReAct: `trajectory` = {thought_i, tool_name_i, tool_args_i, observation_i}."""

    name, step_word = "react", "steps"
    truncates_trajectory = True

    def steps_used(self, trace: dict) -> int | None:
        names = _react_tool_names(trace.get("trajectory"))
        return len(names) if names else None

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return answered_steps(lm_calls)  # one LM call a step; a step whose tool failed is in no ledger

    def ended_by_agent(self, trace: dict) -> bool | None:
        names = _react_tool_names(trace.get("trajectory"))
        return None if not names else names[-1] == "finish"

    def tool_error_steps(self, trace: dict) -> list[int]:
        return _react_errors(trace.get("trajectory"))

    def sections(self, trace: dict) -> list[TraceSection]:
        steps = trace.get("trajectory")
        return [TraceSection("Steps", "react_steps", steps, open=len(steps) <= 40)] if isinstance(steps, dict) else []


class RLMTrace(TraceKind):
    """dspy.RLM: `trajectory` = a list of iterations (reasoning, code, output), `submitted`."""

    name, step_word = "rlm", "iterations"

    def steps_used(self, trace: dict) -> int | None:
        iterations = trace.get("trajectory")
        return len(iterations) if isinstance(iterations, list) else None

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return cells  # one code cell an iteration

    def ended_by_agent(self, trace: dict) -> bool | None:
        return trace.get("submitted")

    def tool_error_steps(self, trace: dict) -> list[int]:
        return []  # a tool error inside the model's code is the code's own exception: see the cells

    def submitted(self, trace: dict) -> bool | None:
        return trace.get("submitted")

    def sections(self, trace: dict) -> list[TraceSection]:
        iterations = trace.get("trajectory")
        return [TraceSection("Iterations", "code_iterations", iterations, open=True)] if isinstance(
            iterations, list) else []


class PlanThenReActTrace(TraceKind):
    """The hybrid: an RLM planner (`planner_trajectory`, `planner_submitted`), its `plan`, and a ReAct
    executor's `trajectory`. Steps are the executor's, counted against its step limit."""

    name, step_word = "plan_then_react", "executor steps"
    truncates_trajectory = True
    _executor = ReActTrace()

    def steps_used(self, trace: dict) -> int | None:
        return self._executor.steps_used(trace)

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return tool_calls  # the planner calls no tool: each executor step that reached a tool is in the ledger

    def progress(self, tool_calls: int, lm_calls: list[LMCall], cells: int, limits: tuple[int | None, ...]) -> str:
        """The executor's steps against its limit, and the planner's iterations against its own (the second)."""
        return (f"planner iterations {cells}/{limits[1] or '?'}, "
                + super().progress(tool_calls, lm_calls, cells, limits))

    def ended_by_agent(self, trace: dict) -> bool | None:
        return self._executor.ended_by_agent(trace)

    def tool_error_steps(self, trace: dict) -> list[int]:
        return self._executor.tool_error_steps(trace)

    def submitted(self, trace: dict) -> bool | None:
        return trace.get("planner_submitted")

    def sections(self, trace: dict) -> list[TraceSection]:
        out = []
        if isinstance(trace.get("planner_trajectory"), list):
            out.append(TraceSection("Planner iterations", "code_iterations", trace["planner_trajectory"]))
        if isinstance(trace.get("plan"), list):
            out.append(TraceSection(f"Plan: {len(trace['plan']):,} calls", "plan", trace["plan"]))
        out += [TraceSection("Executor steps", s.kind, s.items, s.open) for s in self._executor.sections(trace)]
        return out


class ToolTurnsTrace(TraceKind):
    """dspy.ReActV2: `turns` = [{thought, tool_calls: [{name, args, result, error}]}], `termination_reason`."""

    name, step_word = "tool_turns", "turns"

    def steps_used(self, trace: dict) -> int | None:
        return len(trace["turns"]) if isinstance(trace.get("turns"), list) else None

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return answered_steps(lm_calls)  # one LM call a turn

    def ended_by_agent(self, trace: dict) -> bool | None:
        reason = trace.get("termination_reason")
        return None if reason is None else reason == "submit"

    def tool_error_steps(self, trace: dict) -> list[int]:
        return [turn for turn, entry in enumerate(trace.get("turns") or [], 1)
                for call in entry.get("tool_calls", [])
                if call.get("error") and not _not_the_agents(str(call.get("result") or ""))]

    def unknown_tools(self, trace: dict, tool_names: set[str]) -> list[str]:
        return sorted({call["name"] for entry in trace.get("turns") or [] for call in entry.get("tool_calls", [])
                       if call["name"] not in tool_names and call["name"] != "submit"})

    def dropped_calls(self, trace: dict, lm_calls: list[LMCall]) -> list[int] | None:
        """DSPy parses a turn's `tool_calls` JSON; where a reply held several objects or a broken list, it
        keeps part of it and runs only that. Each turn's reply against the calls the turn ran."""
        turns = trace.get("turns")
        if not isinstance(turns, list):
            return None
        return [turn for turn, (entry, reply) in enumerate(zip(turns, step_replies(lm_calls)), 1)
                for _ in range(calls_asked_for(reply) - len(entry.get("tool_calls", [])))]

    def sections(self, trace: dict) -> list[TraceSection]:
        if not isinstance(trace.get("turns"), list):
            return []
        return [TraceSection(f"Turns (ended by {trace.get('termination_reason', 'n/a')})", "tool_turns",
                             trace["turns"], open=True)]


class AgentCallsTrace(TraceKind):
    """Your own agent (--agent): its steps are the model calls it made through the metered endpoint, and its tool
    calls are the ledger's; its own trace is `{"agent": name, "answered": bool, "endpoint_requests": n}`. Both
    lists are drawn on the page as for every run, so it draws no section of its own."""

    name, step_word = "agent_calls", "model calls"

    def steps_used(self, trace: dict) -> int | None:
        return trace.get("endpoint_requests")  # None where the run was cut before the agent returned

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return len(lm_calls)

    def ended_by_agent(self, trace: dict) -> bool | None:
        return trace.get("answered")

    def tool_error_steps(self, trace: dict) -> list[int]:
        return []

    def sections(self, trace: dict) -> list[TraceSection]:
        return []


class SmolCodeTrace(TraceKind):
    """smolagents' CodeAgent: `steps` = [{reasoning, code, output, error}], `state` (`success`: it called
    final_answer; `max_steps_error`: smolagents asked for an answer at its step limit)."""

    name, step_word = "smol_code", "steps"

    def steps_used(self, trace: dict) -> int | None:
        return len(trace["steps"]) if isinstance(trace.get("steps"), list) else None

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return answered_steps(lm_calls)  # one LM call a step, whether or not its reply held code

    def ended_by_agent(self, trace: dict) -> bool | None:
        return None if "state" not in trace else trace["state"] == "success"

    def tool_error_steps(self, trace: dict) -> list[int]:
        return []  # a tool error inside the model's code is the code's own exception: see the cells

    def submitted(self, trace: dict) -> bool | None:
        return self.ended_by_agent(trace)

    def unparsed_steps(self, trace: dict) -> list[int] | None:
        return _smol_unparsed(trace.get("steps"))

    def sections(self, trace: dict) -> list[TraceSection]:
        steps = trace.get("steps")
        return [TraceSection("Steps", "code_iterations", steps, open=True)] if isinstance(steps, list) else []


class SmolToolsTrace(TraceKind):
    """smolagents' ToolCallingAgent: `turns` = [{thought, tool_calls: [{name, args, result}], observations, error}],
    `state` as the CodeAgent's."""

    name, step_word = "smol_tool_turns", "steps"

    def steps_used(self, trace: dict) -> int | None:
        return len(trace["turns"]) if isinstance(trace.get("turns"), list) else None

    def steps_from_log(self, tool_calls: int, lm_calls: list[LMCall], cells: int) -> int:
        return answered_steps(lm_calls)  # one LM call a step

    def ended_by_agent(self, trace: dict) -> bool | None:
        return None if "state" not in trace else trace["state"] == "success"

    def tool_error_steps(self, trace: dict) -> list[int]:
        return [i for i, turn in enumerate(trace.get("turns") or [], 1)
                if str(turn.get("error") or "").startswith(("AgentToolExecutionError", "AgentToolCallError"))
                and not _not_the_agents(str(turn["error"]))]

    def unknown_tools(self, trace: dict, tool_names: set[str]) -> list[str]:
        return sorted({call["name"] for turn in trace.get("turns") or [] for call in turn.get("tool_calls", [])
                       if call["name"] not in tool_names and call["name"] != "final_answer"})

    def unparsed_steps(self, trace: dict) -> list[int] | None:
        return _smol_unparsed(trace.get("turns"))

    def sections(self, trace: dict) -> list[TraceSection]:
        turns = trace.get("turns")
        return [TraceSection(f"Steps (ended by {'final_answer' if trace.get('state') == 'success' else 'the step limit'})",
                             "tool_turns", turns, open=True)] if isinstance(turns, list) else []


def _smol_unparsed(steps: Any) -> list[int] | None:
    """Steps whose reply smolagents could not parse (no code block, tool calls it could not read)."""
    if not isinstance(steps, list):
        return None
    return [i for i, step in enumerate(steps, 1) if str(step.get("error") or "").startswith("AgentParsingError")]


TRACE_KINDS: dict[str, TraceKind] = {k.name: k for k in (ReActTrace(), RLMTrace(), PlanThenReActTrace(), AgentCallsTrace(),
                                                         ToolTurnsTrace(), SmolCodeTrace(), SmolToolsTrace())}
"""Every trace shape by the name the results header records."""

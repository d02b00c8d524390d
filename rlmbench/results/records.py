"""The typed records of a benchmark invocation: what one run produced, as the results files hold it.

Data flows one way: task -> approach -> `RunRecord` -> summary. Every field has a docstring,
and every results file carries `SCHEMA_VERSION`, so a reader (or `--resume`) knows what it has.
A record is never looked up by string key: a typo is an AttributeError, not a silent n/a.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = 3
"""2: tasks as data (typed coverage, failure and answer score per tool; the record names its task).
3: a typed header (results.meta.RunMeta); steps and the step limit only in the diagnostics; `narrative`."""


class _Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="ignore")


class ToolCoverage(_Model):
    tool: str
    """The tool whose checks these are."""
    required: int
    """Checks of this tool the case requires."""
    covered: int
    """Required checks the tool really received, with valid arguments."""
    missed: list[list[str]] = []
    """The keys of the required checks never made."""


class FollowUpCoverage(_Model):
    """One follow-up tool's checks: required by findings (tasks.task.required_follow_ups), not enumerated."""

    tool: str
    required: int
    """Follow-ups the case's findings require."""
    made: int
    """Of those, the ones the tool answered."""
    wasted: int = 0
    """Distinct follow-ups answered with no finding behind them: calls a branch should not have made."""
    missed: list[list[str]] = []
    """The keys of the required follow-ups never made."""


class Recovery(_Model):
    """The transient failures the tools injected in a run (tasks.behaviour), and what the agent made of them."""

    failures: int
    """Calls that raised ToolUnavailableError."""
    recovered: int
    """Checks that failed, then answered on a later call."""
    lost: list[list[str]] = []
    """The checks that failed and were never answered: the tool's name, then the key."""


class Coverage(_Model):
    tools: list[ToolCoverage]
    """One entry per tool with required checks, in the task's order."""
    tool_calls: int = 0
    """Every call any tool received, repeated and invalid ones included (the invalid ones: diagnostics)."""
    recovery: Recovery | None = None
    """Transient failures and their recovery; None when no tool could fail in this invocation (not exercised)."""
    follow_ups: list[FollowUpCoverage] | None = None
    """One entry per follow-up tool; None for a task without one (branching not exercised)."""

    @property
    def required(self) -> int:
        return sum(t.required for t in self.tools)

    @property
    def covered(self) -> int:
        return sum(t.covered for t in self.tools)

    @property
    def share(self) -> float:
        """The share of the required checks really made (0 to 1); 1 when nothing is required."""
        return self.covered / self.required if self.required else 1.0

    @property
    def all_made(self) -> bool:
        """Every required check and every required follow-up was made."""
        return self.covered == self.required and all(f.made == f.required for f in self.follow_ups or [])

    def of(self, tool: str) -> ToolCoverage | None:
        return next((t for t in self.tools if t.tool == tool), None)


class Failure(_Model):
    category: str
    """A stable category (run.failures.FAILURE_CATEGORIES), so failures can be counted and compared."""
    type: str
    """The exception's class name."""
    message: str
    """The exception's message, cut at 500 characters."""
    traceback: str = ""
    """The end of the traceback, for diagnosis."""


class ToolScore(_Model):
    """How right the answer's findings of one tool are, against the ground truth of the case."""

    tool: str
    answer_field: str
    """The answer field scored (`interactions`)."""
    true: int
    """Findings of this tool among the case's required checks."""
    reported: int
    """Distinct findings the answer reported."""
    found: int
    """Reported findings that are true findings."""
    severity_scored: int = 0
    """Found findings whose severity the answer had to state (0 for a tool with one fixed severity)."""
    severity_agreed: int = 0
    """Of those, the ones reported with the ground truth's severity."""
    claimed_clear: int | None = None
    """Keys the answer listed as clear; None when the task asks for no clear list for this tool."""
    claimed_clear_never_checked: int | None = None
    """Of those, keys the tool ledger shows were never looked up."""
    claimed_clear_but_finding: int | None = None
    """Of those, keys that are findings."""
    reported_unchecked: int = 0
    """Findings the answer reported whose check the tool ledger never saw: not looked up, so not
    evidence, even where the ground truth happens to agree."""

    @property
    def recall(self) -> float | None:
        return self.found / self.true if self.true else None

    @property
    def precision(self) -> float | None:
        return self.found / self.reported if self.reported else None


class AnswerScore(_Model):
    """The structured answer scored against the ground truth. A ratio with nothing to divide by is None."""

    tools: list[ToolScore]
    """One entry per tool with findings, in the task's order."""
    overall_risk: str | None
    """The overall risk the answer gave."""
    expected_risk: str
    """The level the task's rule gives for the case's true findings."""
    values_required: int | None = None
    """Values the case's required follow-ups answer; None for a task without follow-ups (state not exercised)."""
    values_exact: int | None = None
    """Of those, the ones the answer reproduced exactly (as the tool gave them, outer spaces aside)."""

    @property
    def values_share(self) -> float | None:
        return self.values_exact / self.values_required if self.values_required else None

    @property
    def severity_agreement(self) -> float | None:
        scored = sum(t.severity_scored for t in self.tools)
        return sum(t.severity_agreed for t in self.tools) / scored if scored else None

    @property
    def claimed_clear_never_checked(self) -> int | None:
        counts = [t.claimed_clear_never_checked for t in self.tools if t.claimed_clear_never_checked is not None]
        return sum(counts) if counts else None

    @property
    def reported_unchecked(self) -> int:
        return sum(t.reported_unchecked for t in self.tools)

    def of(self, tool: str) -> ToolScore | None:
        return next((t for t in self.tools if t.tool == tool), None)


class CallUsage(_Model):
    prompt_tokens: int
    completion_tokens: int


class LMCall(_Model):
    """One LM request of a run, in order, as the provider answered it or failed to (the traces file keeps these)."""

    index: int
    """1-based position among the run's LM calls."""
    at_s: float
    """When the request was sent, in seconds after the run's clock started."""
    request_format: str
    """`chat` (DSPy's ChatAdapter), `json` (its JSONAdapter: a re-ask when it follows a chat request)."""
    request_messages: int
    request_chars: int
    """Characters of text the request sent: its size before tokenisation."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    """As the provider reported it: `length` means the reply was cut at max_tokens."""
    reply: str | None = None
    """The reply text, cut at 20,000 characters."""
    error: str | None = None
    """Why the request failed, for a request with no reply."""
    duration_s: float | None = None
    """Seconds from sending the request to its reply or failure (to the budget, for a cancelled one);
    None in files written before it was measured."""
    cancelled: bool = False
    """True: the run's budget (--timeout) ran out while this request was in flight; the benchmark closed
    it and never read a reply (a local server may have gone on generating it)."""


class CodeCell(_Model):
    """One code cell the sandbox ran for the run (the RLM's, or the hybrid's planner's)."""

    index: int
    code: str
    error: str | None = None
    """The error the cell raised in the sandbox; None for a cell that ran."""
    output: str | None = None
    """The start of what the cell printed or returned."""
    returned: bool = True
    """False: the cell was still running when the run was recorded (it hung, and the run timed out)."""


TIME_PARTS = (("model", "Model"), ("dspy_tool_path", "dspy.Tool path"),
              ("sandbox_round_trip", "Sandbox: code + round trips"), ("tool_functions", "Tool functions"),
              ("rest", "Rest"))
"""The keys of TimeSplit.parts, in order, with the words a report shows for each."""


class TimeSplit(_Model):
    """Where a run's wall time went, each part measured around its own code (seconds).

    The derived parts a report shows (`parts`) follow from these: no part is estimated."""

    model_s: float = 0.0
    """Inside the run's LM calls: the provider's request (or the oracle's engine) and DSPy's LM client."""
    model_in_cells_s: float = 0.0
    """Of model_s, LM calls made from inside a sandbox cell (an RLM's llm_query); 0 for most runs."""
    tools_s: float = 0.0
    """Inside the task's tool functions (the simulated lookups): the benchmark's own code."""
    tools_in_cells_s: float = 0.0
    """Of tools_s, tool calls made from inside a sandbox cell (across the bridge)."""
    cells_s: float | None = None
    """Inside the sandbox's execute() for the model's cells: its code in Pyodide with every tool call
    it made; None for a run without a sandbox."""
    tool_path_s: float | None = None
    """Of cells_s, on the host answering the sandbox's tool calls: DSPy's interpreter and dspy.Tool
    path (its jsonschema argument check, callbacks, the JSON reply), the tool functions inside it."""
    bridged_calls: int | None = None
    """Tool calls that crossed the sandbox bridge."""
    tool_calls_sum_s: float | None = None
    """The durations of the run's tool calls added up (from the ledger); None in files written before."""
    tool_calls_span_s: float | None = None
    """From the first tool call's start to the last one's end: with tool_calls_sum_s, how many ran at once."""

    @property
    def concurrency(self) -> float | None:
        """Tool calls running at once on average over their span: 1 for calls one at a time (DSPy's arms)."""
        if not self.tool_calls_span_s or self.tool_calls_sum_s is None:
            return None
        return self.tool_calls_sum_s / self.tool_calls_span_s

    def parts(self, wall_s: float) -> dict[str, float] | None:
        """model / dspy.Tool path / sandbox round trip / tool functions / rest, which sum to the wall
        time; None for a run without a sandbox."""
        if self.cells_s is None or self.tool_path_s is None:
            return None
        if self.tools_in_cells_s > 0 and not self.bridged_calls:
            return None  # tools ran in cells but the bridge handler was never timed: no split to show
        dspy_path = self.tool_path_s - self.tools_in_cells_s - self.model_in_cells_s
        round_trip = self.cells_s - self.tool_path_s
        return {"model": self.model_s, "dspy_tool_path": dspy_path, "sandbox_round_trip": round_trip,
                "tool_functions": self.tools_s,
                "rest": wall_s - self.model_s - self.tools_s - dspy_path - round_trip}


class Diagnostics(_Model):
    """How the run went wrong, each item detected from its trace, never guessed. Lists hold the
    1-based positions where it happened: tool calls in ledger order, LM calls, steps or code cells."""

    repeated_tool_calls: list[int] = []
    """Tool calls identical (tool and the items its arguments name) to an earlier call of the run."""
    invalid_tool_calls: list[int] = []
    """Tool calls with a name the task does not know (or the same item twice for a pair tool)."""
    lost_to_failures: list[int] | None = None
    """Tool calls that failed transiently and whose check no later call answered; None where no tool could fail."""
    tool_errors: list[int] = []
    """Steps whose tool call failed before the tool ran (arguments of the wrong kind, a tool that does not exist)."""
    user_tool_errors: list[int] | None = None
    """Tool calls (ledger positions) that the user's own code answered with an error: the function raised, or the
    server answered `isError` or stopped answering; None for a task of lookup tables."""
    unknown_tools: list[str] = []
    """Tool names the model asked for that do not exist."""
    trajectories_truncated: list[int] | None = None
    """DSPy's ReAct dropped its oldest tool calls to fit the context window and asked again, after these many LM
    calls; None for an arm that does not (only DSPy's ReAct and the hybrid's executor do)."""
    truncated_replies: list[int] = []
    """LM calls whose reply was cut at max_tokens (finish reason `length`)."""
    dropped_tool_calls: list[int] | None = None
    """Turns whose reply asked for tool calls that were never run (malformed or partial function-call JSON, of
    which DSPy ran only part), once per call dropped; None where a reply cannot ask for several calls."""
    reasked: list[int] = []
    """LM calls that re-asked in JSON after DSPy's ChatAdapter could not parse the reply: each one a paid call."""
    unparsed_steps: list[int] | None = None
    """Steps whose reply the agent's framework could not parse (smolagents: no code block, tool calls it could not
    read) and answered with an error to the model, each one a paid call; None where the arm records none."""
    steps_used: int | None = None
    """ReAct steps, ReActV2 turns or RLM iterations used (for the hybrid, the executor's steps)."""
    steps_from_log: bool = False
    """True: the trace did not come back (a timed-out or failed run), so steps_used was counted from what the
    run logged as it went (its LM calls, tool ledger or code cells): what it did before it ended."""
    step_limit: int | None = None
    """The limit those steps count against."""
    hit_step_limit: bool | None = None
    """True: the agent used up its steps instead of ending on its own (or, without its trace, its log shows every
    step used); None: unknown (no trace, and steps left)."""
    code_cells: int | None = None
    """Cells the sandbox ran; None for an approach without one."""
    cells_shadowing_tools: list[int] | None = []
    """Cells that redefine, reassign or import over a tool's name, so later calls miss the real tool; None where no
    cell parsed as Python, so nothing could be read."""
    shadowed_tools: list[str] = []
    cells_repeated: list[int] = []
    """Cells identical to the cell before them."""
    cells_failed: list[int] = []
    """Cells that raised in the sandbox."""
    submitted: bool | None = None
    """RLM: False when SUBMIT was never called and DSPy forced an answer out of the history."""


class IdleWait(_Model):
    """Before a run, the wait for the model's server to finish what a run cut at its budget left it doing
    (run.server_idle): outside this run's wall time and budget."""

    after: list[str]
    """The cut runs it waited for (`RLM Direct 1`)."""
    waited_s: float
    """Seconds until the server answered a one-token request (or until the wait gave up)."""
    confirmed: bool
    """False: the server did not answer within the wait's bound, so this run may have shared it with an
    abandoned call."""
    problem: str | None = None
    """Why the wait gave up, for an unconfirmed one."""


OUTCOMES = {"complete": "complete", "incomplete": "incomplete", "no_answer": "all checks made, no answer",
            "failed": "failed"}
"""A run's outcome (RunRecord.outcome) and the words a report shows for it."""


class RunRecord(_Model):
    task: str
    """The task's name (`drugs`)."""
    model: str = ""
    """The model's label (the model string unless a models file names it)."""
    approach: str
    """The approach's registry name (`rlm`)."""
    run: int
    """1-based repetition number within (task, case, approach)."""
    ok: bool
    """Completed without an error (it may still have hit its iteration limit or missed checks)."""
    wall_time_s: float
    """Seconds from the approach's start to its answer or failure."""
    coverage: Coverage
    """The required checks against the tool calls really made."""
    lm_calls: int
    """Every LM request the run sent, from its call log (the traces' `lm_calls`): answered, failed (each retry is a
    request) and cut at --timeout; an adapter's re-ask is a request too."""
    prompt_tokens: int
    """The prompt tokens the provider reported, over the run's answered calls."""
    completion_tokens: int
    usage_per_call: list[CallUsage] = []
    """The tokens of every answered LM call, in order: a ReAct run's growing prompt is visible here."""
    lm_calls_failed: int = 0
    """Of lm_calls, requests that failed (an error from the provider, a request timeout): no tokens reported."""
    lm_calls_cut: int = 0
    """Of lm_calls, the request in flight when the run's budget ran out: closed, no reply read, no tokens."""
    failure: Failure | None = None
    """Why the run failed; None for a run that completed."""
    narrative: str | None = None
    """The answer's narrative."""
    sandbox_boot_s: float | None = None
    """Boot time of the sandboxes this run used; None for a run with no sandbox."""
    sandbox_boot_in_wall_time: bool | None = None
    """True with --cold-sandbox: the boot is part of wall_time_s."""
    sandbox_wait_s: float | None = None
    """Waiting for a warm sandbox, before the clock started."""
    pacing_wait_s: float = 0.0
    """Waiting for --tpm room, inside the wall time."""
    cost_usd: float | None = None
    """The run's tokens at the model's price (the header's `models[].price`); None without a price."""
    answer_score: AnswerScore | None = None
    """The structured answer scored against the ground truth; None without an answer."""
    case: str | None = None
    """The sweep point the run belongs to, which also names it in the traces: a scale sweep's size (`16x6`), or
    a latency sweep's latency (`25 ms`); None for a single comparison on the task's own lists."""
    tool_latency_ms: float | None = None
    """The latency every tool had in this run of a latency sweep (`--tool-latency 0,25,100`); None otherwise."""
    tool_answer_tokens: int | None = None
    """The answer size every table tool had in this run of an answer-size sweep (`--tool-answer-tokens 0,2000`);
    None otherwise."""
    answer_tokens_per_call: float | None = None
    """The mean size in tokens of the answers the tools gave (answered calls, counted after the run); None where no
    call answered, or in files written before it was measured."""
    diagnostics: Diagnostics = Diagnostics()
    """How the run went wrong, detected from its trace."""
    time_split: TimeSplit | None = None
    """Where the wall time went: model, tool functions, and for a sandboxed run the cells and the
    tool bridge; None in files written before it was measured."""
    sandbox_boot_kind: str | None = None
    """`snapshot`: the sandbox restored a Pyodide memory snapshot; `stock`: DSPy's own loadPyodide()."""
    idle_wait: IdleWait | None = None
    """The wait, before this run, for the server to finish a cut run's abandoned call; None when none was needed."""

    @property
    def all_checks_made(self) -> bool:
        """Every required check and follow-up was made, whether or not the run then answered."""
        return self.coverage.all_made

    @property
    def complete(self) -> bool:
        """The one definition of a complete run: it finished without error and made every required check.
        Every count of complete runs (the summary, pass^k, the comparison, the page) reads it."""
        return self.ok and self.all_checks_made

    @property
    def outcome(self) -> str:
        """One of OUTCOMES: complete, incomplete (no error, checks missing), no_answer (every check made, then
        failed) or failed."""
        if self.ok:
            return "complete" if self.all_checks_made else "incomplete"
        return "no_answer" if self.all_checks_made and self.coverage.required else "failed"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> "RunRecord":
        return cls.model_validate(data)

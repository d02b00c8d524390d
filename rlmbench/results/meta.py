"""The results header: what one invocation ran, with which settings, as its files record it.

`RunMeta` is written once at the head of the log and with every rewrite of the JSON document, and
read back by `--resume`, `rlmbench report` and the summary. Resume compares its fields, never its
wording. Everything a report needs to name an arm (its label, its trace kind, whether it used a
sandbox) is recorded here, so rendering needs neither the approach registry nor DSPy.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from rlmbench.lm.settings import ContextWindow, ModelSettings, Price
from rlmbench.results.records import SCHEMA_VERSION
from rlmbench.tasks.behaviour import Latency
from rlmbench.tasks.task_file import builtin_source


class _Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="ignore")


class TaskInfo(_Model):
    name: str
    """The task's name (`drugs`)."""
    source: str
    """`tasks/<name>.toml` for a built-in task, a user's file by its full path, or a generated size."""
    fingerprint: str
    """A hash of everything the task holds: an edited task file is not the same task."""
    lists: dict[str, int]
    """Each input list and its length."""
    required_checks: int
    """Checks the task's own lists require."""
    required_follow_ups: int = 0
    """Follow-ups the findings among those checks require: a complete run makes these too."""
    truth: str = "declared"
    """Where the ground truth came from: declared in the task file, read from the tools' answers (the truth
    pass), or none (findings not scored)."""
    truth_fingerprint: str | None = None
    """For truth read from the tools: a hash of it, so a resume whose tools answer differently is refused."""
    findings: dict[str, list[list[str]]] | None = None
    """For truth read from the tools: tool -> each finding's items, severity and details, as the truth pass read
    them."""
    code_tools: dict[str, dict] | None = None
    """Tools of the user's code: name -> the `args` and `doc` their code gave (a rebuilt page needs no server)."""

    def user_tools_text(self) -> str | None:
        """`check_a, check_b answered by your code; ground truth read from their answers (fingerprint ...)`; None for
        a task of tables, whose truth is its file's."""
        if not self.code_tools:
            return None
        truth = {"tools": f"ground truth read from their answers before the runs (fingerprint {self.truth_fingerprint})",
                 "none": "no ground truth (no findings declared, no `finding` matcher): findings not scored",
                 "declared": "ground truth declared in the task file",
                 "no_findings": "no findings in this task (lookups alone): runs measured on coverage"}[self.truth]
        return f"{', '.join(self.code_tools)} answered by your code; {truth}"

    def load_argument(self) -> str:
        """How to load this task again: a built-in by its name, a user's file by its path."""
        return self.name if self.source == builtin_source(self.name) else self.source


class ModelRecord(ModelSettings):
    """A model's settings as the header records them: never the key itself."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True, extra="ignore")

    api_key_given: bool = False
    """A key was given on the command line (`--api-key`); the key is not recorded."""
    price: Price | None = None
    """The price its cost was computed at; None: no price, cost n/a."""
    window: ContextWindow | None = None
    """Its context window (lm.windows); None: not known (the provider's refusal decides)."""

    @classmethod
    def of(cls, settings: ModelSettings, price: Price | None, window: ContextWindow | None = None) -> "ModelRecord":
        return cls(**{**settings.model_dump(), "label": settings.name}, api_key_given=settings.api_key is not None,
                   price=price, window=window)

    def settings(self) -> ModelSettings:
        """The settings to run this model again (a resumed invocation); the key comes from the environment."""
        return ModelSettings(**self.model_dump(include=set(ModelSettings.model_fields)))


class Arm(_Model):
    """One approach as the report needs to know it."""

    name: str
    """The registry name (`rlm`)."""
    label: str
    """What the summary calls it (`RLM Direct`)."""
    uses_sandbox: bool
    """Needed the benchmark's Deno/Pyodide sandbox pool."""
    runs_code: bool = False
    """The model wrote code that the arm ran (its cells are in the traces); a file from before this field read
    uses_sandbox for it."""

    @model_validator(mode="before")
    @classmethod
    def _code_as_before(cls, data: Any) -> Any:
        if isinstance(data, dict) and "runs_code" not in data:
            data = {**data, "runs_code": data.get("uses_sandbox", False)}
        if isinstance(data, dict) and "framework" not in data:  # a file from before: DSPy's arms and your agents
            data = {**data, "framework": None if data.get("trace_kind") == "agent_calls" else "DSPy"}
        return data
    one_call_per_check: bool
    """Spends an LM call per check (skipped above --react-limit)."""
    trace_kind: str
    """Its trace's shape: a key of results.traces.TRACE_KINDS."""
    framework: str | None = None
    """The agent framework whose module it runs (`DSPy`, `smolagents`); None for your agent (--agent)."""


class AgentSettings(_Model):
    react_max_iters: int | None
    """ReAct's, ReActV2's and the hybrid executor's step limit; None: required checks + react_step_headroom,
    at each size of a sweep."""
    react_step_headroom: int
    """Steps above the required checks when react_max_iters is None."""
    rlm_max_iters: int
    """RLM REPL iterations (also the hybrid planner's)."""
    rlm_max_llm_calls: int
    """Sub-LLM calls an RLM run may make from its code."""
    answer_form: Literal["structured", "prose"]
    """`structured`: typed findings and the narrative; `prose`: the narrative only."""

    def react_limit_text(self) -> str:
        if self.react_max_iters is not None:
            return str(self.react_max_iters)
        return f"required checks + {self.react_step_headroom} at each size"


class SweepInfo(_Model):
    sizes: list[str]
    """The generated sizes, one length per list (`16x6`)."""
    checks: list[int]
    """Required checks at each size."""
    seed: int
    """The seed of the generated tasks."""
    fits: dict[str, dict[str, dict[str, Any]]] | None = None
    """model -> approach -> the fitted token growth exponent and its points, once the sweep ended."""
    skipped: dict[str, list[str]] = {}
    """approach -> the sizes it was not run at (more checks than --react-limit)."""


class ToolInfo(_Model):
    """How the tools behaved beyond their answers (tasks.behaviour): what a wall time and a coverage include."""

    seed: int = 0
    """--seed: fixes which wait each check draws, and which checks fail."""
    latency_override_ms: float | None = None
    """--tool-latency: every tool's latency; None: each tool's own from the task."""
    latency: dict[str, str] = {}
    """Tool -> its latency from the task (`80 +/- 40 ms`), for the tools that have one."""
    latency_sweep_ms: list[float] = []
    """--tool-latency with several values: the whole comparison ran at each, every tool at that latency."""
    failure_rate_override: float | None = None
    """--tool-faults: every tool's transient failure rate; None: each tool's own from the task."""
    failure_rates: dict[str, float] = {}
    """Tool -> its transient failure rate from the task, for the tools that have one."""
    tool_count: int = 0
    """The task's tools: when every one behaves alike, the text says `every tool` instead of naming each."""
    answer_tokens_override: int | None = None
    """--tool-answer-tokens: every table tool's answer size; None: each tool's own from the task."""
    answer_tokens: dict[str, int] = {}
    """Tool -> the size of its answers' detail from the task (`answer_tokens`), for the tools that have one."""
    answer_tokens_sweep: list[int] = []
    """--tool-answer-tokens with several values: the whole comparison ran at each, every table tool at that size."""

    @property
    def sweep_values(self) -> list[float]:
        """The values of the tool behaviour a sweep varied (latencies or answer sizes); [] without one."""
        return list(self.latency_sweep_ms) or [float(n) for n in self.answer_tokens_sweep]

    @property
    def none(self) -> bool:
        """No tool was given a latency or failures, by the task or by the flags."""
        return (self.latency_override_ms is None and not self.latency and not self.latency_sweep_ms
                and self.failure_rate_override is None and not self.failure_rates and not self._answer_sizes())

    @property
    def has_latency(self) -> bool:
        """Some tool call took time: the tools' waiting, and so parallelism, was exercised."""
        if self.latency_override_ms is not None:
            return self.latency_override_ms > 0
        return bool(self.latency) or any(ms > 0 for ms in self.latency_sweep_ms)

    def _per_tool(self, texts: dict[str, str]) -> str:
        if len(texts) == self.tool_count and len(set(texts.values())) == 1:
            return f"every tool {next(iter(texts.values()))}"
        return ", ".join(f"{tool} {text}" for tool, text in texts.items()) or "none"

    def text(self) -> str:
        """`latency every tool 25 ms (--tool-latency); transient failures none; seed 0`."""
        if self.latency_override_ms is not None:
            latency = f"every tool {Latency(self.latency_override_ms).text()} (--tool-latency)"
        elif self.latency_sweep_ms:
            latency = f"every tool, in turn {', '.join(Latency(ms).text() for ms in self.latency_sweep_ms)} (--tool-latency)"
        else:
            latency = self._per_tool(self.latency)
        if self.failure_rate_override is not None:
            faults = f"every tool {self.failure_rate_override:.0%} of checks (--tool-faults)"
        else:
            faults = self._per_tool({tool: f"{rate:.0%} of checks" for tool, rate in self.failure_rates.items()})
        sizes = self._answer_sizes()
        return f"latency {latency}; transient failures {faults}" + (f"; answers {sizes}" if sizes else "") + (
            f"; seed {self.seed}")

    def _answer_sizes(self) -> str:
        """`every tool about 2,000 tokens (--tool-answer-tokens)`; "" where every answer is the finding alone."""
        if self.answer_tokens_override is not None:
            return f"every table tool about {self.answer_tokens_override:,} tokens (--tool-answer-tokens)"
        if self.answer_tokens_sweep:
            return (f"every table tool, in turn {', '.join(f'{n:,}' for n in self.answer_tokens_sweep)} tokens "
                    f"(--tool-answer-tokens)")
        if not self.answer_tokens:
            return ""
        return self._per_tool({tool: f"about {n:,} tokens" for tool, n in self.answer_tokens.items()})


RunState = Literal["running", "finished", "interrupted"]


class RunMeta(_Model):
    schema_version: int = SCHEMA_VERSION
    """The results schema (records.SCHEMA_VERSION) the files were written with."""
    task: TaskInfo
    """The task the runs used."""
    models: list[ModelRecord]
    """Every model of the invocation, in order."""
    runs: int
    """Runs per model and approach (per size in a sweep)."""
    arms: list[Arm]
    """The approaches that ran, in order."""
    reference_approach: str | None = None
    """The arm the others are compared with in the differences table (the registry's reference arm)."""
    skipped: dict[str, str] = {}
    """approach -> why it did not run at all (more checks than --react-limit)."""
    dspy_version: str
    smolagents_version: str | None = None
    """None when no smolagents arm ran."""
    deno_version: str | None = None
    """None when no arm used the sandbox."""
    python: str
    platform: str
    settings: AgentSettings
    """The agents' limits and answer form."""
    react_limit: int
    """--react-limit: one-call-per-check arms are skipped above this many checks."""
    run_timeout_s: float | None = None
    """--timeout: a run's wall-time budget; None: no budget."""
    case: dict[str, list[str]] | None = None
    """The task's own lists as the runs got them; None for a sweep."""
    sweep: SweepInfo | None = None
    """The scale sweep; None for a run on the task's own lists."""
    tools: ToolInfo = ToolInfo()
    """How the tools behaved: latency and the seed of its draws."""
    started_at: str
    """When the first invocation started (ISO 8601, local time with offset)."""
    resumed_at: list[str] = []
    """When each --resume of this file started."""
    cache: bool = False
    """DSPy's LM cache; always off, so every run is a real call."""
    cold_sandbox: bool | None = None
    """True: each sandbox booted DSPy's stock way inside the run's wall time (--cold-sandbox); False: from
    the warm pool's Pyodide snapshot before the clock; None: no arm used a sandbox."""
    notice: str
    """The task's data notice."""
    notices: list[str] = []
    """Every notice the summary prints (oracle, concurrency, resumed, interrupted, the data notice)."""
    state: RunState = "running"
    """`running` while runs are added, then `finished` or `interrupted` (Ctrl-C)."""

    @property
    def approaches(self) -> list[str]:
        return [arm.name for arm in self.arms]

    def frameworks_text(self) -> str:
        """`DSPy 3.4.1`, and smolagents' version where its arms ran."""
        return f"DSPy {self.dspy_version}" + (f", smolagents {self.smolagents_version}"
                                              if self.smolagents_version else "")

    def arm(self, name: str) -> Arm | None:
        return next((a for a in self.arms if a.name == name), None)

    def label(self, approach: str) -> str:
        arm = self.arm(approach)
        return arm.label if arm else approach

    @property
    def labels(self) -> list[str]:
        """The models' labels, in order."""
        return [m.name for m in self.models]

    def model(self, label: str) -> ModelRecord | None:
        return next((m for m in self.models if m.name == label), None)

    def sandbox_text(self) -> str:
        if self.cold_sandbox is None:
            return "none"
        return ("cold: DSPy's stock boot inside each run's wall time" if self.cold_sandbox
                else "warm pool: boot from a Pyodide memory snapshot before each run's clock starts")




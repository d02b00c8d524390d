"""What a benchmark task is: named input lists, tools that look things up, and the ground truth.

A task has two halves, kept apart on purpose:
- `TaskSchema`: what any agent may know. The wording of the task, the input lists' names,
  the tools (name, kind, arguments, docstring, how they phrase an answer), the severity
  scale and the overall-risk rule. The offline oracle plays every role from this alone.
- `TaskData`: the items of each list and the ground truth (which checks are findings, with
  what severity and details; attribute values; aliases). Only the tools and the scorer read it.

The rules that every module shares are stated here once: how a name the agent gives is matched to
an item, what key a check has, which checks a case requires, and the overall risk a set of findings
implies. Items are kept exactly as the task file spells them: that spelling is what a tool receives,
what a key holds and what a report prints (real services have case-sensitive keys: time zones, paths,
tickers, SKUs). Normalising is only a way to match a name the agent gives to one item.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Literal

from rlmbench.tasks.behaviour import Latency
from rlmbench.tasks.detail import DetailVocabulary
from rlmbench.tasks.matcher import FindingMatcher

ToolKind = Literal["pair", "cross", "attribute"]
TOOL_KINDS: tuple[str, ...] = ("pair", "cross", "attribute")
"""pair: one list, order-insensitive, every unordered pair required; cross: two lists, every
combination required; attribute: one list, every item required only where the task says so."""

CheckKey = tuple[str, ...]
ToolReturns = Literal["text", "json"]
TruthSource = Literal["declared", "tools", "none", "no_findings"]
TOOL_RETURNS: tuple[str, ...] = ("text", "json")

RISK_FIELD = "overall_risk"
"""The typed answer's field for the overall risk level, in every task."""


def normalise_name(name: object) -> str:
    """The form a name is matched in, never the form it is kept in: case, spaces, hyphens and underscores do not
    matter ('Chronic Kidney-Disease' matches 'chronic_kidney_disease')."""
    return re.sub(r"[\s\-_]+", "_", str(name).strip().lower()).strip("_")


def match_index(items: Iterable[str]) -> dict[str, str | None]:
    """Normalised form -> the one item that has it; None where two items differ only in case or spacing (then only
    the exact spelling names either)."""
    index: dict[str, str | None] = {}
    for item in items:
        key = normalise_name(item)
        index[key] = None if key in index and index[key] != item else item
    return index


def resolve_item(given: object, exact: frozenset[str] | set[str], index: dict[str, str | None],
                 aliases: dict[str, str]) -> str:
    """The item a given name means: itself when it is one, else the item an alias names, else the one item it
    matches normalised. A name that matches none (or two) comes back as given, and is not an item."""
    text = str(given)
    if text in exact:
        return text
    key = normalise_name(text)
    return aliases.get(key) or index.get(key) or text


@dataclass(frozen=True)
class ListSpec:
    name: str
    """The input field's name, a Python identifier (`medications`)."""
    description: str
    """What the agent is told the list holds."""
    entity: str
    """One item, in words (`drug`): used in the tools' messages and in generated names (`drug_01`)."""


@dataclass(frozen=True)
class FollowUp:
    """What makes a follow-up tool's check required: a finding of another tool, of one of these severities."""

    after: str
    """The tool whose findings it follows (`check_drug_interaction`); the follow-up takes the same key."""
    when: tuple[str, ...]
    """The severities that require it (`major`)."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    kind: ToolKind
    lists: tuple[str, ...]
    """The list each argument draws from: one for pair and attribute tools, two for cross tools."""
    args: tuple[str, ...]
    """Argument names: two for pair and cross tools, one for attribute tools."""
    doc: str
    """The docstring the agent sees."""
    required: bool
    """Every key of this tool over the case's lists must be looked up for full coverage."""
    label: str
    """What a finding of this tool is called (`interaction`)."""
    answer_field: str | None
    """The structured answer's list of this tool's findings; None for a tool without findings."""
    clear_field: str | None
    """The structured answer's list of keys found clear (no finding); None when not asked for."""
    fixed_severity: str | None
    """Every finding of this tool has this severity, and the answer does not state one."""
    found: str
    """How the tool states a finding; placeholders: the args, {severity}, {SEVERITY}, {details}."""
    clear: str
    """How the tool states that a checked key has no finding (for attribute tools: no value)."""
    value: str
    """Attribute tools: how the tool states an item's value; placeholders: the arg, {value}."""
    finding_rate: float | None
    """Share of keys that are findings in generated tasks; None: the share the file itself has."""
    answer_description: str = ""
    """What the answer's list of findings holds, as the agent is told."""
    clear_description: str = ""
    """What the answer's list of clear checks holds, as the agent is told."""
    latency: Latency = Latency()
    """How long a call takes (tasks.behaviour); none by default, as a lookup table answers at once."""
    transient_failure_rate: float = 0.0
    """The share of this tool's checks whose first call fails (tasks.behaviour); none by default."""
    returns: ToolReturns = "text"
    """text: the answer is a sentence from the templates; json: a dict, as a real API's (tasks.tools)."""
    answer_tokens: int = 0
    """About this many tokens of detail in each answer beside its finding (tasks.detail); 0: the finding alone."""
    follow_up: FollowUp | None = None
    """A follow-up tool (file kind `follow_up`): its checks are required by findings, not enumerated; `kind` is then
    the shape of its key (its `after` tool's kind), `value` how it states its answer, `answer_field` the typed
    answer's list of the values it gave."""
    function: str | None = None
    """`module:attr`: the user's Python function answers the tool's calls (tasks.backends), not the task's tables."""
    mcp: str | None = None
    """The name of the task server's MCP tool that answers the tool's calls (tasks.backends)."""
    finding: FindingMatcher | None = None
    """How a finding is read from the answers of a tool backed by the user's code (tasks.matcher); None for the
    task's own tables, whose answers are the templates above."""

    @property
    def user_code(self) -> bool:
        """Answered by the user's function or server, not by the task's tables."""
        return self.function is not None or self.mcp is not None

    @property
    def has_findings(self) -> bool:
        return self.answer_field is not None and self.follow_up is None

    @property
    def reports_severity(self) -> bool:
        return self.has_findings and self.fixed_severity is None


@dataclass(frozen=True)
class RiskRule:
    """The overall risk of a case: the highest finding severity present maps to a level."""

    levels: tuple[str, ...]
    """The answer's allowed levels, lowest first."""
    by_severity: tuple[tuple[str, str], ...]
    """(severity, level) for every severity of the scale."""
    none: str
    """The level when the case has no finding."""
    description: str = "the overall risk"
    """What the answer's overall_risk field is, as the agent is told (the rule is appended)."""

    def level(self, severities: Iterable[str], scale: tuple[str, ...]) -> str:
        present = set(severities)
        mapping = dict(self.by_severity)
        for severity in scale:  # most severe first
            if severity in present:
                return mapping[severity]
        return self.none

    def describe(self, scale: tuple[str, ...]) -> str:
        mapping = dict(self.by_severity)
        parts = [f"{mapping[s]} if the most severe finding is {s}" for s in scale]
        return "; ".join(parts) + f"; {self.none} if there is no finding"


NO_RISK = RiskRule(levels=(), by_severity=(), none="", description="")
"""The risk rule of a task without findings: it has no overall risk to report (no answer field asks for one)."""


@dataclass(frozen=True)
class ServerSpec:
    """The task's MCP server (`[server]`): started once per invocation (or per run), stopped at its end."""

    command: tuple[str, ...] | None = None
    """stdio: the command that starts it, in the task file's folder."""
    url: str | None = None
    """streamable HTTP: the URL of a server already running."""
    env: tuple[tuple[str, str], ...] = ()
    """Extra variables for a started server, over the MCP SDK's default safe environment (never the user's keys)."""
    per_run: bool = False
    """A fresh server for every run, for a server that keeps state between calls."""
    start_timeout_s: float = 60.0
    """How long the server may take to start and list its tools."""

    def describe(self) -> str:
        return " ".join(self.command) if self.command else str(self.url)


@dataclass(frozen=True)
class TaskSchema:
    name: str
    description: str
    instructions: str
    """The neutral task wording every agent gets; it does not tell the agent to enumerate checks."""
    narrative_field: str
    narrative_description: str
    notice: str
    """Printed on every summary: where the data comes from and what it must not be used for."""
    lists: tuple[ListSpec, ...]
    tools: tuple[ToolSpec, ...]
    severities: tuple[str, ...]
    """The task's own severity scale, most severe first."""
    risk: RiskRule
    sweep: tuple[str, ...] | None = None
    """The task's own default sweep sizes (`16x6`), or None for the generic default."""
    server: ServerSpec | None = None
    """The MCP server behind the tools that name one (`mcp`); None without."""
    answer_detail: DetailVocabulary | None = None
    """The sentences a tool's detail is drawn from (`[answer_detail]`); None: tasks.detail.GENERIC."""

    def list(self, name: str) -> ListSpec:
        return next(spec for spec in self.lists if spec.name == name)

    def tool(self, name: str) -> ToolSpec | None:
        return next((spec for spec in self.tools if spec.name == name), None)

    @property
    def required_tools(self) -> tuple[ToolSpec, ...]:
        return tuple(t for t in self.tools if t.required)

    @property
    def finding_tools(self) -> tuple[ToolSpec, ...]:
        return tuple(t for t in self.tools if t.has_findings)

    @property
    def follow_up_tools(self) -> tuple[ToolSpec, ...]:
        return tuple(t for t in self.tools if t.follow_up is not None)

    @property
    def user_code(self) -> bool:
        """Some tool is answered by the user's function or server (tasks.backends), not by the task's tables."""
        return any(t.user_code for t in self.tools)


@dataclass(frozen=True)
class Entry:
    """One finding of the ground truth."""

    severity: str
    details: str


@dataclass(frozen=True)
class TaskData:
    items: dict[str, tuple[str, ...]]
    """List name -> its items, exactly as the task file spells them."""
    findings: dict[str, dict[CheckKey, Entry]]
    """Tool name -> check key -> finding; a key that is absent is clear."""
    values: dict[str, dict[str, str]]
    """Attribute tool name -> item -> value."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Normalised alias -> the item it names (as spelled)."""
    follow_ups: dict[str, dict[CheckKey, str]] = field(default_factory=dict)
    """Follow-up tool name -> check key -> the exact value it answers."""
    truth: TruthSource = "declared"
    """Where `findings` come from: declared in the task file, read from the tools' answers by their matchers
    (the truth pass, tasks.backends.truth), none: a task whose findings nobody can score, or no_findings: a task
    of lookups alone, whose runs are measured on coverage."""

    @property
    def scored(self) -> bool:
        """Whether an answer's findings and risk can be scored against a ground truth."""
        return self.truth in ("declared", "tools")


@dataclass(frozen=True)
class Task:
    """One benchmark task: what agents may know, and what only the tools and the scorer know."""

    schema: TaskSchema
    data: TaskData
    source: str
    """Where it came from: a built-in name's file, a user's file, or a generated size."""

    @property
    def name(self) -> str:
        return self.schema.name

    def full_case(self) -> "Case":
        return Case({spec.name: list(self.data.items[spec.name]) for spec in self.schema.lists})

    def resolve(self, name: object) -> str:
        """The item a name the agent gives means (tasks.task.resolve_item): what the tools, the ledger and the scorer
        key a call by."""
        exact, index = self._matching
        return resolve_item(name, exact, index, self.data.aliases)

    @functools.cached_property
    def _matching(self) -> tuple[frozenset[str], dict[str, str | None]]:
        items = [item for names in self.data.items.values() for item in names]
        return frozenset(items), match_index(items)

    def finding(self, tool: str, key: CheckKey) -> Entry | None:
        return self.data.findings.get(tool, {}).get(key)

    def fingerprint(self) -> str:
        """A short hash of everything the task holds: an edited task file cannot be resumed as the same task."""
        schema = asdict(self.schema)
        for tool in schema["tools"]:  # a tool that behaves as a lookup table hashes as before behaviour existed
            if tool["latency"] == asdict(Latency()):
                del tool["latency"]
            if tool["transient_failure_rate"] == 0:
                del tool["transient_failure_rate"]
            if tool["returns"] == "text":
                del tool["returns"]
            if tool["answer_tokens"] == 0:
                del tool["answer_tokens"]
            for name in ("follow_up", "function", "mcp", "finding"):  # fields added later hash only when set
                if tool[name] is None:
                    del tool[name]
        for name in ("server", "answer_detail"):
            if schema[name] is None:
                del schema[name]
        follow_ups = {t: sorted([list(k), v] for k, v in f.items()) for t, f in self.data.follow_ups.items()}
        payload = json.dumps({"schema": schema, "items": self.data.items, **({"follow_ups": follow_ups} if follow_ups
                                                                           else {}),
                              "findings": self._findings_listed(), "values": self.data.values,
                              "aliases": self.data.aliases},
                             sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _findings_listed(self) -> dict[str, list]:
        return {t: sorted([list(k), e.severity, e.details] for k, e in f.items()) for t, f in self.data.findings.items()}

    def truth_fingerprint(self) -> str:
        """A short hash of the findings alone: whether the tools still answer as when results were recorded."""
        return hashlib.sha256(json.dumps(self._findings_listed(), sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> dict:
        """The task as the results file records it; truth read from the tools is recorded with it."""
        from_tools = self.data.truth == "tools"
        return {"name": self.name, "source": self.source, "fingerprint": self.fingerprint(),
                "lists": {name: len(items) for name, items in self.data.items.items()},
                "required_checks": len(required_checks(self.schema, self.full_case().inputs)),
                "required_follow_ups": len(required_follow_ups(self, self.full_case())),
                "truth": self.data.truth, "truth_fingerprint": self.truth_fingerprint() if from_tools else None,
                "findings": ({t: [[*k, e.severity, e.details] for k, e in f.items()]
                              for t, f in self.data.findings.items()} if from_tools else None),
                "code_tools": {t.name: {"args": list(t.args), "doc": t.doc} for t in self.schema.tools
                               if t.user_code} or None}

    def as_recorded(self, code_tools: dict[str, dict] | None, findings: dict[str, list[list[str]]] | None) -> "Task":
        """This task (loaded from its file) as an invocation's header recorded it (`describe`): the arguments and
        docs its code gave, and the truth its tools answered. A page is rebuilt from it without the user's code."""
        tools = tuple(replace(t, args=tuple(code_tools[t.name]["args"]), doc=code_tools[t.name]["doc"])
                      if code_tools and t.name in code_tools else t for t in self.schema.tools)
        data = self.data
        if findings is not None:
            data = replace(data, findings={t: {tuple(f[:-2]): Entry(f[-2], f[-1]) for f in found}
                                           for t, found in findings.items()})
        return replace(self, schema=replace(self.schema, tools=tools), data=data)


@dataclass
class Case:
    """The inputs of one run: each list's items (all of the task's, or a subset of them)."""

    inputs: dict[str, list[str]]

    def label(self) -> str:
        return "x".join(str(len(items)) for items in self.inputs.values())


@dataclass(frozen=True)
class Check:
    """One required lookup: the tool, its key (items as spelled), and the arguments that make it."""

    tool: str
    key: CheckKey
    args: dict[str, str]


def check_key(tool: ToolSpec, args: dict) -> CheckKey:
    """The key of a call: its argument values (items, as resolved), sorted for a pair tool (order does not matter)."""
    return key_of(tool.kind, [args.get(name, "") for name in tool.args])


def key_of(kind: str, values: Iterable[object]) -> CheckKey:
    """The key of a check from its argument values in order (a tool whose argument names its code gives later)."""
    given = tuple(str(v) for v in values)
    return tuple(sorted(given)) if kind == "pair" else given


def tool_keys(tool: ToolSpec, inputs: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Every argument tuple of one tool over the given lists, in a stable order."""
    if tool.kind == "pair":
        return list(itertools.combinations(inputs[tool.lists[0]], 2))
    if tool.kind == "cross":
        return list(itertools.product(inputs[tool.lists[0]], inputs[tool.lists[1]]))
    return [(item,) for item in inputs[tool.lists[0]]]


def check_scope(tool: ToolSpec) -> str:
    """What a tool's required checks range over, in the task's own words: 'medications pairs',
    'medications x conditions', 'each of systems'."""
    if tool.kind == "pair":
        return f"{tool.lists[0]} pairs"
    if tool.kind == "cross":
        return f"{tool.lists[0]} x {tool.lists[1]}"
    return f"each of {tool.lists[0]}"


def required_checks(schema: TaskSchema, inputs: dict[str, list[str]]) -> list[Check]:
    """The checks a case requires: every pair of a pair tool's list, every combination of a cross
    tool's lists, and every item of a required attribute tool's list."""
    checks = []
    for tool in schema.required_tools:
        for values in tool_keys(tool, inputs):
            args = dict(zip(tool.args, values))
            checks.append(Check(tool.name, check_key(tool, args), args))
    return checks


def required_follow_ups(task: Task, case: Case) -> list[Check]:
    """The follow-ups a case requires: one for each finding of a follow-up tool's `after` tool, among the case's
    required checks, whose severity is in its `when`; same key, the follow-up's own argument names."""
    checks = required_checks(task.schema, case.inputs)
    out = []
    for tool in task.schema.follow_up_tools:
        rule = tool.follow_up
        for check in checks:
            found = task.finding(rule.after, check.key) if check.tool == rule.after else None
            if found is not None and found.severity in rule.when:
                out.append(Check(tool.name, check.key, dict(zip(tool.args, check.args.values()))))
    return out


def required_check_count(schema: TaskSchema, lengths: dict[str, int]) -> int:
    """How many checks lists of these lengths require: the count of required_checks, without listing them
    (a 10,000-check size is searched for by this count)."""
    def keys(tool: ToolSpec) -> int:
        first = lengths[tool.lists[0]]
        if tool.kind == "pair":
            return first * (first - 1) // 2
        return first * lengths[tool.lists[1]] if tool.kind == "cross" else first
    return sum(keys(tool) for tool in schema.required_tools)


def expected_risk(task: Task, case: Case) -> str:
    """The level the task's rule gives for the findings among the case's required checks."""
    severities = [found.severity for check in required_checks(task.schema, case.inputs)
                  if (found := task.finding(check.tool, check.key))]
    return task.schema.risk.level(severities, task.schema.severities)


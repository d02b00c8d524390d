"""A deterministic offline model that plays each approach's model role perfectly.

It is a real DSPy engine (`dspy.LM(..., engine=OracleEngine())`): it receives the same
system and user messages a hosted model would, through DSPy's real ChatAdapter, and answers
in the adapter's `[[ ## field ## ]]` format. It decides what to do only from those messages:
- ReAct step (outputs `next_tool_name`): the next required check that the trajectory does not
  show yet, one per step, then `finish`; in the hybrid executor, the next step of the plan.
- ReActV2 turn (outputs `tool_calls`): every required check in one turn (the architecture
  allows several calls per turn, and the oracle takes its floor), then `submit` with the findings.
- RLM action (outputs `code`): first a loop over every pair and condition that builds the
  structured findings in variables and prints a summary, then SUBMIT of those variables in the
  next step, as DSPy's RLM instructions ask.
- GEPA reflection (outputs `new_instruction`): the current instruction plus one sentence asking
  for every pair and condition to be checked.
- Anything else (ReAct extract, RLM fallback): the structured findings and a report, read from
  the tool results in the conversation.

Because its choices are perfect and free, its numbers measure each architecture's own cost
(LM calls, prompt growth, sandbox and harness time), never a model's judgement.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
from pathlib import Path

from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events

ORACLE_MODEL_NAME = "oracle"
ORACLE_NOTICE = (
    "Offline oracle model: these numbers measure each architecture's own cost "
    "(LM calls, prompt growth, sandbox and harness time), not any model's quality."
)

_SECTION = re.compile(r"^\[\[ ## (\w+) ## \]\]$", re.MULTILINE)
_RESPOND = "\n\nRespond with "
_JSON_REQUEST = "Respond with a JSON object"
# Fields whose value is itself JSON, not text.
_JSON_VALUED = {"next_tool_args", "plan", "tool_calls", "interactions", "contraindications", "pairs_without_interaction"}
_INTERACTION = re.compile(r"\b(MAJOR|MODERATE|MINOR) interaction between (\w+) and (\w+):")
_CONTRAINDICATED = re.compile(r"\bCONTRAINDICATED: (\w+) in (\w+)\.")
_NO_INTERACTION = re.compile(r"\bNo known interaction between (\w+) and (\w+) in the database")


class OracleError(RuntimeError):
    """The oracle was asked something it has no scripted answer for."""


@functools.cache
def _encoding():
    """o200k_base from the copy LiteLLM ships: tiktoken cannot download encodings offline."""
    spec = importlib.util.find_spec("litellm")  # locate without importing: LiteLLM takes ~3 s to import
    if spec is None or not spec.submodule_search_locations:
        raise OracleError("the oracle counts tokens with LiteLLM's bundled o200k_base, but LiteLLM is not installed")
    bundled = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))
    import tiktoken

    return tiktoken.get_encoding("o200k_base")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def parse_sections(text: str) -> dict[str, str]:
    """Split a ChatAdapter message into its `[[ ## name ## ]]` sections (nested trajectory keys included)."""
    text = text.split(_RESPOND, 1)[0]
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def output_fields(system: str) -> list[str]:
    block = system.split("Your output fields are:", 1)[-1].split("All interactions will be structured", 1)[0]
    return re.findall(r"^\d+\. `(\w+)`", block, re.MULTILINE)


def _format(fields: dict[str, str], as_json: bool = False) -> str:
    """The reply in the format the adapter asked for: ChatAdapter's sections, or JSONAdapter's object."""
    if as_json:
        return json.dumps({k: json.loads(v) if k in _JSON_VALUED else v for k, v in fields.items()})
    body = "\n\n".join(f"[[ ## {name} ## ]]\n{value}" for name, value in fields.items())
    return body + "\n\n[[ ## completed ## ]]"


def _load_list(raw: str, what: str) -> list:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OracleError(f"oracle could not read `{what}` as JSON: {raw[:80]!r}") from exc
    if not isinstance(value, list):
        raise OracleError(f"oracle expected `{what}` to be a list")
    return value


def _key(tool: str, args: dict) -> tuple:
    norm = {k: re.sub(r"[\s\-_]+", "_", str(v).strip().lower()) for k, v in args.items()}
    if tool == "check_drug_interaction":
        return tool, tuple(sorted((norm.get("drug_a", ""), norm.get("drug_b", ""))))
    return tool, tuple(sorted(norm.items()))


def planned_checks(medications: list[str], conditions: list[str]) -> list[dict]:
    """Every required check, in the order the oracle performs them."""
    checks = [
        {"tool": "check_drug_interaction", "args": {"drug_a": a, "drug_b": b}}
        for i, a in enumerate(medications)
        for b in medications[i + 1:]
    ]
    checks += [
        {"tool": "check_contraindication", "args": {"drug": d, "condition": c}}
        for d in medications
        for c in conditions
    ]
    return checks


def _react_step(sections: dict[str, str], system: str) -> dict[str, str]:
    if "plan" in sections:
        todo = _load_list(sections["plan"], "plan")
    else:
        todo = planned_checks(_load_list(sections.get("medications", "[]"), "medications"),
                              _load_list(sections.get("conditions", "[]"), "conditions"))
    done = set()
    i = 0
    while f"tool_name_{i}" in sections:
        try:
            args = json.loads(sections.get(f"tool_args_{i}", "{}"))
        except json.JSONDecodeError:
            args = {}
        done.add(_key(sections[f"tool_name_{i}"], args if isinstance(args, dict) else {}))
        i += 1
    for step in todo:
        if not isinstance(step, dict) or "tool" not in step:
            continue
        if _key(step["tool"], step.get("args", {})) not in done:
            if f"({step['tool']}," not in system and f") {step['tool']}," not in system:
                raise OracleError(f"oracle needs tool {step['tool']!r} but the prompt does not offer it")
            return {
                "next_thought": f"Step {i + 1}: run {step['tool']} for {', '.join(map(str, step['args'].values()))}.",
                "next_tool_name": step["tool"],
                "next_tool_args": json.dumps(step["args"]),
            }
    return {
        "next_thought": f"All {len(todo)} checks are done; finishing.",
        "next_tool_name": "finish",
        "next_tool_args": "{}",
    }


_CHECK_CODE = '''\
interactions, contraindications, pairs_without_interaction = [], [], []
n_pairs = n_conditions = 0
for i, drug_a in enumerate(medications):
    for drug_b in medications[i + 1:]:
        n_pairs += 1
        result = check_drug_interaction(drug_a=drug_a, drug_b=drug_b)
        if result.startswith("No known"):
            pairs_without_interaction.append({"drug_a": drug_a, "drug_b": drug_b})
        elif result.split()[0] in ("MAJOR", "MODERATE", "MINOR"):
            interactions.append({"drug_a": drug_a, "drug_b": drug_b, "severity": result.split()[0].lower(),
                                 "text": result})
for drug in medications:
    for condition in conditions:
        n_conditions += 1
        result = check_contraindication(drug=drug, condition=condition)
        if result.startswith("CONTRAINDICATED"):
            contraindications.append({"drug": drug, "condition": condition, "text": result})
severities = {f["severity"] for f in interactions}
overall_risk = ("high" if "major" in severities or contraindications
                else "moderate" if "moderate" in severities else "low")
risk_assessment = "\\n".join(
    [f"Risk assessment: checked {n_pairs} drug pairs and {n_conditions} drug-condition combinations; "
     f"overall risk {overall_risk}."]
    + [f"- {f['text']}" for f in interactions + contraindications]
    + ["No other interactions or contraindications were found in the checks above."]
)
print(f"{len(interactions)} interactions, {len(contraindications)} contraindications, "
      f"{len(pairs_without_interaction)} pairs without interaction; overall risk {overall_risk}")'''

_PLAN_CODE = '''\
plan = [{"tool": "check_drug_interaction", "args": {"drug_a": a, "drug_b": b}}
        for i, a in enumerate(medications) for b in medications[i + 1:]]
plan += [{"tool": "check_contraindication", "args": {"drug": d, "condition": c}}
         for d in medications for c in conditions]
print(len(plan), "checks planned; first:", plan[:2])'''


def _rlm_step(sections: dict[str, str], system: str) -> dict[str, str]:
    submit = re.search(r"`SUBMIT\(([^)]*)\)`", system)
    names = [n.strip() for n in submit.group(1).split(",")] if submit else []
    build = _PLAN_CODE if names == ["plan"] else _CHECK_CODE
    if not names:
        raise OracleError("oracle found no SUBMIT(...) signature in the RLM prompt")
    history = sections.get("repl_history", "")
    steps = len(re.findall(r"^=== Step \d+ ===$", history, re.MULTILINE))
    if steps == 0:
        return {"reasoning": "Loop over every pair and every condition with the tools, and collect the findings.",
                "code": f"```python\n{build}\n```"}
    return {"reasoning": "The loop ran and collected its findings; submit them.",
            "code": f"```python\nSUBMIT({', '.join(f'{n}={n}' for n in names)})\n```"}


def findings_in(text: str) -> dict:
    """The structured findings the tool results in `text` support, and the report that goes with them."""
    interactions = {tuple(sorted((a, b))): sev.lower() for sev, a, b in _INTERACTION.findall(text)}
    contraindications = list(dict.fromkeys(_CONTRAINDICATED.findall(text)))
    clear = list(dict.fromkeys(tuple(sorted(p)) for p in _NO_INTERACTION.findall(text)))
    severities = set(interactions.values())
    risk = ("high" if "major" in severities or contraindications
            else "moderate" if "moderate" in severities else "low")
    report = "\n".join(
        [f"Risk assessment from the checks made: overall risk {risk}."]
        + [f"- {sev.upper()} interaction between {a} and {b}" for (a, b), sev in interactions.items()]
        + [f"- {d} is contraindicated in {c}" for d, c in contraindications]
        + ["No other interactions or contraindications were found in the checks above."]
    )
    return {
        "interactions": [{"drug_a": a, "drug_b": b, "severity": sev} for (a, b), sev in interactions.items()],
        "contraindications": [{"drug": d, "condition": c} for d, c in contraindications],
        "pairs_without_interaction": [{"drug_a": a, "drug_b": b} for a, b in clear],
        "overall_risk": risk,
        "risk_assessment": report,
    }


def _final_answer(fields: list[str], conversation: str) -> dict[str, str]:
    found = findings_in(conversation)
    answer = {}
    for name in fields:
        if name == "reasoning":
            answer[name] = f"The checks report {len(found['interactions'])} interactions."
        elif name == "plan":
            answer[name] = "[]"
        elif name in found:
            value = found[name]
            answer[name] = json.dumps(value) if isinstance(value, list) else value
        else:
            answer[name] = found["risk_assessment"]
    return answer


def _react_v2_turn(system: str, conversation: str) -> dict[str, str]:
    """All checks in the first turn, then submit: the fewest turns ReActV2 allows."""
    if "check_drug_interaction" not in system and "check_drug_interaction" not in conversation:
        raise OracleError("oracle needs the check tools but the prompt does not offer them")
    if _INTERACTION.search(conversation) or _NO_INTERACTION.search(conversation):
        found = findings_in(conversation)
        return {"next_thought": "Every check has a result; submit the assessment.",
                "tool_calls": json.dumps({"tool_calls": [{"name": "submit", "args": found}]})}
    first = parse_sections(conversation)
    checks = planned_checks(_load_list(first.get("medications", "[]"), "medications"),
                            _load_list(first.get("conditions", "[]"), "conditions"))
    return {"next_thought": f"Run all {len(checks)} checks at once.",
            "tool_calls": json.dumps({"tool_calls": [{"name": c["tool"], "args": c["args"]} for c in checks]})}


COVERAGE_GUIDANCE = (
    "Check every pair of the patient's medications with check_drug_interaction and every medication "
    "against every condition with check_contraindication, looping over them in code, before you write "
    "the assessment; report each finding with its severity."
)


def _propose_instruction(sections: dict[str, str]) -> dict[str, str]:
    """GEPA reflection: keep the current instruction and add the coverage guidance once."""
    current = sections.get("current_instruction", "").strip()
    if COVERAGE_GUIDANCE in current:
        return {"new_instruction": current}
    return {"new_instruction": f"{current}\n\n{COVERAGE_GUIDANCE}".strip()}


def respond(system: str, user: str, conversation: str | None = None) -> str:
    """The oracle's whole policy: the reply text for one request.

    `user` is the last user message; `conversation` is every message after the system prompt
    (earlier turns of a multi-turn history included), and defaults to `user`.
    """
    conversation = user if conversation is None else conversation
    fields = output_fields(system)
    sections = parse_sections(user)
    as_json = _JSON_REQUEST in user[-600:]
    if "new_instruction" in fields:
        return _format(_propose_instruction(sections), as_json)
    if "next_tool_name" in fields:
        return _format(_react_step(sections, system), as_json)
    if "tool_calls" in fields:
        return _format(_react_v2_turn(system, conversation), as_json)
    if "code" in fields:
        return _format(_rlm_step(sections, system), as_json)
    if not fields:
        raise OracleError("oracle found no output fields in the system prompt (is this a DSPy adapter request?)")
    return _format(_final_answer(fields, conversation), as_json)


class OracleEngine:
    """A `dspy.LM` engine: complete(Request) -> Response, with real token counts."""

    def __init__(self) -> None:
        _encoding()  # load the tokenizer now, not inside the first timed run

    def complete(self, request):
        system = _text(request.system)
        messages = [_text(m.parts) for m in request.messages]
        user = next((text for m, text in zip(reversed(request.messages), reversed(messages)) if m.role == "user"), "")
        text = respond(system, user, "\n\n".join(messages))
        usage = Usage(input_tokens=count_tokens(system) + sum(count_tokens(m) for m in messages),
                      output_tokens=count_tokens(text))
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
        return cls()

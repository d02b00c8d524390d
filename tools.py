"""The simulated drug database and the three tools every approach shares.

SIMULATED DATA. The entries below are simplified illustrations written for a software
benchmark. They are not medical advice, are incomplete, and must never guide a clinical
decision.

The database is a `Scenario` so that the benchmark, the GEPA datasets and the scale sweep
can all build their tools the same way: `make_tools(scenario, record)` returns plain Python
functions (names, type hints and docstrings are what DSPy shows the model) that report every
call to `record`, which is how coverage is measured from what was really called.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Callable

SIMULATED_DATA_NOTICE = "SIMULATED DATA - not medical advice; do not use for clinical decisions."

SEVERITIES = ("major", "moderate", "minor")


@dataclass(frozen=True)
class Interaction:
    severity: str
    details: str


@dataclass(frozen=True)
class Scenario:
    """A drug database with known ground truth: what exists, what interacts, what is contraindicated."""

    medications: tuple[str, ...]
    conditions: tuple[str, ...]
    drug_classes: dict[str, str]
    interactions: dict[frozenset[str], Interaction]
    contraindications: dict[tuple[str, str], str]
    name: str = "default"
    aliases: dict[str, str] = field(default_factory=dict)

    def interaction(self, drug_a: str, drug_b: str) -> Interaction | None:
        return self.interactions.get(frozenset((drug_a, drug_b)))

    def contraindication(self, drug: str, condition: str) -> str | None:
        return self.contraindications.get((drug, condition))


def normalise_name(name: object) -> str:
    """Case, spaces, hyphens and underscores do not matter: 'Chronic Kidney-Disease' == 'chronic_kidney_disease'."""
    return re.sub(r"[\s\-_]+", "_", str(name).strip().lower()).strip("_")


def required_pairs(medications: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """Every unordered pair of the patient's medications, in a stable order."""
    meds = [normalise_name(m) for m in medications]
    return [tuple(sorted(p)) for p in itertools.combinations(meds, 2)]


def describe_interaction(drug_a: str, drug_b: str, found: Interaction) -> str:
    """How the database states an interaction: the tool's answer, and the GEPA reference text."""
    return f"{found.severity.upper()} interaction between {drug_a} and {drug_b}: {found.details}"


def describe_contraindication(drug: str, condition: str, details: str) -> str:
    return f"CONTRAINDICATED: {drug} in {condition}. {details}"


def required_condition_checks(
    medications: list[str] | tuple[str, ...], conditions: list[str] | tuple[str, ...]
) -> list[tuple[str, str]]:
    """Every (medication, condition) combination."""
    return [(normalise_name(m), normalise_name(c)) for m in medications for c in conditions]


# --------------------------------------------------------------------------------------------
# The default scenario of the benchmark: 7 medications, 2 conditions, 21 pairs, 14 checks.
# --------------------------------------------------------------------------------------------

_DRUG_CLASSES = {
    "warfarin": "vitamin K antagonist (oral anticoagulant)",
    "amiodarone": "class III antiarrhythmic",
    "simvastatin": "HMG-CoA reductase inhibitor (statin)",
    "aspirin": "salicylate antiplatelet agent (NSAID)",
    "lisinopril": "ACE inhibitor (antihypertensive)",
    "metformin": "biguanide (oral antidiabetic)",
    "potassium": "electrolyte supplement (potassium chloride)",
}

_INTERACTIONS = {
    ("warfarin", "amiodarone"): Interaction(
        "major", "Amiodarone inhibits warfarin metabolism (CYP2C9); INR rises and bleeding risk increases. "
        "Simulated guidance: reduce warfarin dose and monitor INR closely."),
    ("warfarin", "aspirin"): Interaction(
        "major", "Additive anticoagulant and antiplatelet effect; markedly increased bleeding risk, "
        "including gastrointestinal bleeding."),
    ("simvastatin", "amiodarone"): Interaction(
        "major", "Amiodarone raises simvastatin exposure (CYP3A4); risk of myopathy and rhabdomyolysis. "
        "Simulated guidance: cap the simvastatin dose."),
    ("lisinopril", "potassium"): Interaction(
        "major", "ACE inhibitors reduce potassium excretion; supplements can cause dangerous hyperkalemia."),
    ("warfarin", "simvastatin"): Interaction(
        "moderate", "Simvastatin may modestly increase the anticoagulant effect of warfarin; monitor INR."),
    ("aspirin", "lisinopril"): Interaction(
        "moderate", "NSAIDs may reduce the antihypertensive effect of ACE inhibitors and impair renal function."),
    ("metformin", "lisinopril"): Interaction(
        "minor", "ACE inhibitors may slightly enhance the glucose-lowering effect of metformin."),
    ("amiodarone", "lisinopril"): Interaction(
        "minor", "Additive hypotensive effect possible; monitor blood pressure."),
}

_CONTRAINDICATIONS = {
    ("metformin", "chronic_kidney_disease"): (
        "Contraindicated in severe renal impairment: accumulation raises the risk of lactic acidosis."),
    ("potassium", "chronic_kidney_disease"): (
        "Contraindicated: impaired renal excretion of potassium makes supplementation likely to cause hyperkalemia."),
}

_ALIASES = {
    "ckd": "chronic_kidney_disease",
    "kidney_disease": "chronic_kidney_disease",
    "hf": "heart_failure",
    "chf": "heart_failure",
    "congestive_heart_failure": "heart_failure",
    "potassium_chloride": "potassium",
    "kcl": "potassium",
    "acetylsalicylic_acid": "aspirin",
}

DEFAULT_SCENARIO = Scenario(
    medications=tuple(_DRUG_CLASSES),
    conditions=("chronic_kidney_disease", "heart_failure"),
    drug_classes=dict(_DRUG_CLASSES),
    interactions={frozenset(k): v for k, v in _INTERACTIONS.items()},
    contraindications=dict(_CONTRAINDICATIONS),
    aliases=dict(_ALIASES),
)

# --------------------------------------------------------------------------------------------
# The tools
# --------------------------------------------------------------------------------------------

ToolRecorder = Callable[[str, dict, bool], None]
"""Called as record(tool_name, normalised_args, valid) on every tool call."""


def _no_record(tool: str, args: dict, valid: bool) -> None:
    return None


def make_tools(scenario: Scenario = DEFAULT_SCENARIO, record: ToolRecorder = _no_record) -> list[Callable[..., str]]:
    """The three tools, bound to one scenario and one recorder.

    Bad input (an unknown name) is answered with a message listing the valid names, never an
    exception: a tool error must not end a run, and a model can recover from a clear message.
    """
    drugs = set(scenario.medications)
    conditions = set(scenario.conditions)

    def resolve(name: object) -> str:
        key = normalise_name(name)
        return scenario.aliases.get(key, key)

    def unknown(kind: str, name: object, valid: set[str]) -> str:
        return f"Unknown {kind} '{name}'. Valid {kind}s: {', '.join(sorted(valid))}."

    def check_drug_interaction(drug_a: str, drug_b: str) -> str:
        """Look up the known interaction between two drugs: severity (major, moderate, minor) and clinical details. Order does not matter."""
        a, b = resolve(drug_a), resolve(drug_b)
        valid = a in drugs and b in drugs and a != b
        record("check_drug_interaction", {"drug_a": a, "drug_b": b}, valid)
        for name, raw in ((a, drug_a), (b, drug_b)):
            if name not in drugs:
                return unknown("drug", raw, drugs)
        if a == b:
            return f"'{drug_a}' and '{drug_b}' are the same drug; give two different drugs."
        found = scenario.interaction(a, b)
        if found is None:
            return f"No known interaction between {a} and {b} in the database."
        return describe_interaction(a, b, found)

    def check_contraindication(drug: str, condition: str) -> str:
        """Check whether a drug is contraindicated in a patient condition."""
        d, c = resolve(drug), resolve(condition)
        valid = d in drugs and c in conditions
        record("check_contraindication", {"drug": d, "condition": c}, valid)
        if d not in drugs:
            return unknown("drug", drug, drugs)
        if c not in conditions:
            return unknown("condition", condition, conditions)
        found = scenario.contraindication(d, c)
        if found is None:
            return f"No contraindication recorded for {d} in {c}."
        return describe_contraindication(d, c, found)

    def get_drug_class(drug: str) -> str:
        """Return the pharmacological class of a drug."""
        d = resolve(drug)
        valid = d in drugs
        record("get_drug_class", {"drug": d}, valid)
        if not valid:
            return unknown("drug", drug, drugs)
        return f"{d}: {scenario.drug_classes[d]}"

    return [check_drug_interaction, check_contraindication, get_drug_class]


TOOL_NAMES = ("check_drug_interaction", "check_contraindication", "get_drug_class")

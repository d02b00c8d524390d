"""The drug task's two tools as plain Python functions: `function = "drug_tools:check_drug_interaction"`.

The benchmark reads each tool's arguments from the signature and what the model is told from the docstring, and
reads a finding from each answer with the task file's `finding` pattern. SIMULATED DATA (drug_data.py).
"""

from drug_data import CONTRAINDICATIONS, interaction


def check_drug_interaction(drug_a: str, drug_b: str) -> str:
    """Look up the known interaction between two drugs: severity (major, moderate, minor) and clinical details. Order does not matter."""  # noqa: E501
    found = interaction(drug_a, drug_b)
    if found is None:
        return f"No known interaction between {drug_a} and {drug_b} in the database."
    severity, details = found
    return f"{severity.upper()} interaction between {drug_a} and {drug_b}: {details}"


async def check_contraindication(drug: str, condition: str) -> str:
    """Check whether a drug is contraindicated in a patient condition."""
    # async on purpose: the benchmark runs it on its own event loop, so every arm, the RLM's sandbox included,
    # calls it as a plain function.
    details = CONTRAINDICATIONS.get((drug, condition))
    if details is None:
        return f"No contraindication recorded for {drug} in {condition}."
    return f"CONTRAINDICATED: {drug} in {condition}. {details}"

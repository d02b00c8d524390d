"""The drug database as an MCP server over stdio, written with the official SDK: `python server.py`.

Its tools answer typed dicts (structured content, which the benchmark passes on as dicts); the task file's `finding = { field = "severity", clear = ["none"] }`
reads a finding from each. SIMULATED DATA (../drugs_python/drug_data.py): not medical advice.
"""

import sys
from pathlib import Path
from typing import TypedDict

from mcp.server.mcpserver import MCPServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "drugs_python"))  # the data, stated once
from drug_data import CONTRAINDICATIONS, interaction  # noqa: E402

server = MCPServer("drug-database")


class Interaction(TypedDict):
    drug_a: str
    drug_b: str
    severity: str
    """major, moderate, minor, or none"""
    details: str


class Contraindication(TypedDict):
    drug: str
    condition: str
    contraindicated: bool
    details: str


@server.tool(structured_output=True)
def check_drug_interaction(drug_a: str, drug_b: str) -> Interaction:
    """Look up the known interaction between two drugs: severity (major, moderate, minor) and clinical details. Order does not matter."""  # noqa: E501
    found = interaction(drug_a, drug_b)
    severity, details = found if found else ("none", "No known interaction in the database.")
    return {"drug_a": drug_a, "drug_b": drug_b, "severity": severity, "details": details}


@server.tool(structured_output=True)
def check_contraindication(drug: str, condition: str) -> Contraindication:
    """Check whether a drug is contraindicated in a patient condition."""
    details = CONTRAINDICATIONS.get((drug, condition))
    return {"drug": drug, "condition": condition, "contraindicated": details is not None,
            "details": details or "No contraindication recorded."}


if __name__ == "__main__":
    server.run()  # stdio: the benchmark starts it, and stops it at the end of the invocation

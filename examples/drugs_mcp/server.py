"""The drug database as an MCP server over stdio, written with the official SDK: `python server.py`.

Its tools answer dicts (structured content); the task file's `finding = { field = "severity", clear = ["none"] }`
reads a finding from each. SIMULATED DATA (drug_data.py): not medical advice.
"""

from drug_data import CONTRAINDICATIONS, interaction
from mcp.server.mcpserver import MCPServer

server = MCPServer("drug-database")


@server.tool()
def check_drug_interaction(drug_a: str, drug_b: str) -> dict:
    """Look up the known interaction between two drugs: severity (major, moderate, minor) and clinical details. Order does not matter."""  # noqa: E501
    found = interaction(drug_a, drug_b)
    severity, details = found if found else ("none", "No known interaction in the database.")
    return {"drug_a": drug_a, "drug_b": drug_b, "severity": severity, "details": details}


@server.tool()
def check_contraindication(drug: str, condition: str) -> dict:
    """Check whether a drug is contraindicated in a patient condition."""
    details = CONTRAINDICATIONS.get((drug, condition))
    return {"drug": drug, "condition": condition, "contraindicated": details is not None,
            "details": details or "No contraindication recorded."}


if __name__ == "__main__":
    server.run()  # stdio: the benchmark starts it, and stops it at the end of the invocation

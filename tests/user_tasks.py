"""Task files over a user's own tools, shared by the tests of Python functions and of MCP servers as task tools."""

import json
import os
import subprocess

from helpers import ROOT

from rlmbench.agents.registry import APPROACHES

EXAMPLES = ROOT / "examples"
EVERY_ARM = ",".join(APPROACHES)
"""Every built-in arm, for --approaches: a user's task must run in each."""
def records(path):
    return json.loads(path.read_text())


def covered(record) -> tuple[int, int]:
    """(covered, required) checks of a record as the results file holds it."""
    tools = record["coverage"]["tools"]
    return sum(t["covered"] for t in tools), sum(t["required"] for t in tools)


def user_task(folder, tools_toml: str, extra: str = "") -> str:
    """A small task file in `folder`: three items, one pair tool (the user's, or the task's own table: `tools_toml`
    says which), `extra` before the risk rule."""
    (folder / "task.toml").write_text(f'''
name = "mine"
description = "A user's task."
instructions = "Check every pair of the items with the tool."
severities = ["high", "low"]
{extra}
[risk]
levels = ["low", "high"]
none = "low"
by_severity = {{ high = "high", low = "low" }}

[[lists]]
name = "items"
description = "the items"
items = ["alpha", "beta", "gamma"]

[[tools]]
name = "check_pair"
kind = "pair"
lists = ["items"]
{tools_toml}
''')
    return str(folder / "task.toml")


PAIR_MODULE = '''
import os, sys
def check_pair(a: str, b: str) -> str:
    """Whether two items clash."""
    if {a, b} == {"alpha", "gamma"}:
        return "CLASH (high) between the two"
    if {a, b} == {"beta", "gamma"} and os.environ.get("PAIR_RAISES"):
        raise ValueError("the lookup service refused beta/gamma")
    return "fine"
NOT_A_FUNCTION = 3
'''


SERVER = '''
import os, sys, time
from mcp.server.mcpserver import MCPServer

server = MCPServer("pairs")
with open("pids.txt", "a") as pids:  # which server processes this invocation started
    print(os.getpid(), file=pids)
with open("env.txt", "w") as names:  # what the server was given of the benchmark's environment
    print(" ".join(sorted(os.environ)), file=names)


@server.tool()
def check_pair(a: str, b: str) -> dict:
    """Whether two items clash."""
    if os.environ.get("DIE_ON") and {a, b} == set(os.environ["DIE_ON"].split(",")) and not os.path.exists("died"):
        open("died", "w").close()
        print("pairs server: out of memory on", a, b, file=sys.stderr, flush=True)
        os._exit(3)
    time.sleep(float(os.environ.get("CALL_SLEEP", "0")))
    return {"clash": "yes" if {a, b} == {"alpha", "gamma"} else "no", "level": "high"}


if __name__ == "__main__":
    server.run()
'''


MATCHED = 'finding = { field = "clash", clear = ["no"], severity_field = "level" }'
DECLARED = 'findings = [{ items = ["alpha", "gamma"], severity = "high", details = "clash" }]'


def server_task(folder, server_env: str = "", truth: str = MATCHED) -> str:
    (folder / "pairs_server.py").write_text(SERVER)
    return user_task(folder, f"mcp = true\n{truth}",
                      extra=f'[server]\ncommand = ["python", "pairs_server.py"]\n{server_env}\n')


def servers(folder) -> list[int]:
    """Server processes started in this test's folder that are still running."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    pids = [int(line.split()[0]) for line in out.splitlines() if "server.py" in line]
    return [pid for pid in pids if os.path.realpath(f"/proc/{pid}/cwd") == os.path.realpath(folder)]


SPELLED_ITEMS = ["SKU-a1", "SKU-A1", "Bin 7/Shelf C", "bin-7/shelf-c"]
"""Keys as a real service has them: two pairs differ only in case (or in case and spacing), one has a space and a
slash. A tool that received them lower-cased or with underscores would raise on every call."""

SPELLED_LOOKUP = '''
STOCK = {"SKU-a1": 3, "SKU-A1": 0, "Bin 7/Shelf C": 12, "bin-7/shelf-c": 5}


def check_pair(a: str, b: str) -> str:
    """Whether two stock keys clash (case-sensitive keys)."""
    for key in (a, b):
        if key not in STOCK:
            raise KeyError(f"no such key {key!r}")
    return "CLASH (high)" if {a, b} == {"SKU-a1", "Bin 7/Shelf C"} else "fine"
'''

SPELLED_SERVER = '''
from mcp.server.mcpserver import MCPServer
from spelled_lookup import check_pair as lookup

server = MCPServer("stock")


@server.tool()
def check_pair(a: str, b: str) -> str:
    """Whether two stock keys clash (case-sensitive keys)."""
    return lookup(a, b)


if __name__ == "__main__":
    server.run()
'''

SPELLED_MATCHER = 'finding = { pattern = "^CLASH \\\\((high|low)\\\\)", severity_group = 1 }'


def spelled_task(folder, backend: str) -> str:
    """A pair task over SPELLED_ITEMS answered by the user's function (`function`) or MCP server (`mcp`)."""
    (folder / "spelled_lookup.py").write_text(SPELLED_LOOKUP)
    items = ", ".join(f'"{item}"' for item in SPELLED_ITEMS)
    if backend == "mcp":
        (folder / "stock_server.py").write_text(SPELLED_SERVER)
        path = user_task(folder, f"mcp = true\n{SPELLED_MATCHER}",
                         extra='[server]\ncommand = ["python", "stock_server.py"]\n')
    else:
        path = user_task(folder, f'function = "spelled_lookup:check_pair"\n{SPELLED_MATCHER}')
    text = (folder / "task.toml").read_text().replace('["alpha", "beta", "gamma"]', f"[{items}]")
    (folder / "task.toml").write_text(text)
    return path


def check_spelled_run(result, folder) -> None:
    """Every arm made all six checks, exactly as spelled, with no tool error; the summary and page print them so."""
    assert result.returncode == 0, result.stderr[-3000:]
    data = records(folder / "r.json")
    assert {r["approach"] for r in data["records"]} == set(APPROACHES)  # DSPy's arms and smolagents' alike
    for record in data["records"]:
        assert record["ok"] and covered(record) == (6, 6), record["approach"]
        assert record["answer_score"]["tools"][0]["found"] == 1, record["approach"]
    for line in (folder / "r.traces.jsonl").read_text().splitlines():
        calls = json.loads(line)["tool_calls"]
        assert {c["outcome"] for c in calls} == {"answered"}
        assert {v for c in calls for v in c["args"].values()} == set(SPELLED_ITEMS)
    assert "Bin 7/Shelf C" in (folder / "r.html").read_text()


def lookup_task(folder, backend: str) -> str:
    """A task of lookups alone (no findings, no severities, no risk rule): one required attribute tool, answered by
    the task's table (`table`), the user's function (`function`) or MCP server (`mcp`)."""
    source = {"table": 'args = ["city"]\ndoc = "The UTC offset of a city."\n'
                       'values = { Berlin = "+1", Tokyo = "+9", "New York" = "-5" }',
              "function": 'function = "offsets:get_offset"',
              "mcp": "mcp = true"}[backend]
    (folder / "offsets.py").write_text(OFFSETS)
    (folder / "offsets_server.py").write_text(OFFSETS_SERVER)
    server = '[server]\ncommand = ["python", "offsets_server.py"]\n' if backend == "mcp" else ""
    (folder / "task.toml").write_text(f'''
name = "lookups"
description = "Look up each city."
instructions = "Look up the UTC offset of each of these cities with the tool, and report them."
{server}
[[lists]]
name = "cities"
description = "the cities"
items = ["Berlin", "Tokyo", "New York"]

[[tools]]
name = "get_offset"
kind = "attribute"
lists = ["cities"]
required = true
{source}
''')
    return str(folder / "task.toml")


OFFSETS = '''
OFFSET = {"Berlin": "+1", "Tokyo": "+9", "New York": "-5"}


def get_offset(city: str) -> str:
    """The UTC offset of a city (its name exactly)."""
    return f"{city}: UTC{OFFSET[city]}"
'''

OFFSETS_SERVER = '''
from mcp.server.mcpserver import MCPServer
from offsets import get_offset as offset

server = MCPServer("offsets")


@server.tool()
def get_offset(city: str) -> str:
    """The UTC offset of a city (its name exactly)."""
    return offset(city)


if __name__ == "__main__":
    server.run()
'''

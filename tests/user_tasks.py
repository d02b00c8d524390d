"""Task files over a user's own tools, shared by the tests of Python functions and of MCP servers as task tools."""

import json
import os
import subprocess

from helpers import ROOT

EXAMPLES = ROOT / "examples"
def records(path):
    return json.loads(path.read_text())


def covered(record) -> tuple[int, int]:
    """(covered, required) checks of a record as the results file holds it."""
    tools = record["coverage"]["tools"]
    return sum(t["covered"] for t in tools), sum(t["required"] for t in tools)


def user_task(folder, tools_toml: str, extra: str = "") -> str:
    """A small task file over the user's tools in `folder`: three items, one pair tool."""
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

"""The real Deno/Pyodide sandbox, started offline through the import map.

Python-level attempts (open, os.environ, urllib, subprocess) raise ordinary errors, so they
share one interpreter, which must still work afterwards. Attempts through Deno's own API
(`from js import Deno`) are denied by Deno; DSPy 3.4.1's runner cannot serialise the
resulting JS exception and ends the session, so each of those gets a fresh interpreter and
must fail without leaking anything: for a benchmark run that is a recorded sandbox_error.

Every test runs against both boots: DSPy's stock one (`--cold-sandbox`) and the warm pool's
restore from a Pyodide memory snapshot.
"""

import os

import pytest
from dspy.primitives.code_interpreter import CodeExecutionError, CodeInterpreterError
from dspy.primitives.python_interpreter import _find_deno_executable
from helpers import leak_catcher

from rlmbench.sandbox.interpreter import OfflinePythonInterpreter, SnapshotInterpreter
from rlmbench.sandbox.snapshot import SnapshotStore

SECRET = "sk-test-secret-do-not-leak"


@pytest.fixture(scope="module", params=["stock", "snapshot"])
def new_interpreter(request):
    """Makes interpreters of one boot kind."""
    if request.param == "stock":
        return OfflinePythonInterpreter
    snapshot = SnapshotStore(print).snapshot(_find_deno_executable())
    return lambda **kwargs: SnapshotInterpreter(snapshot, **kwargs)


@pytest.fixture(scope="module")
def sandbox(new_interpreter):
    os.environ["RLMBENCH_TEST_SECRET"] = SECRET
    os.environ.setdefault("GROQ_API_KEY", SECRET)
    interp = new_interpreter(tools={"echo": lambda text: text})
    interp.start()
    yield interp
    interp.shutdown()
    assert interp.deno_process is None


def run(sandbox, code):
    """Output of the code, or the text of the error it raised."""
    try:
        return str(sandbox.execute(code))
    except (CodeExecutionError, SyntaxError) as exc:
        return f"ERROR {exc}"


@pytest.fixture
def run_fresh(new_interpreter):
    def run_in_own(code):
        """Run code in its own interpreter: for attempts that end the session."""
        interp = new_interpreter()
        try:
            return str(interp.execute(code))
        except (CodeExecutionError, CodeInterpreterError, SyntaxError) as exc:
            return f"ERROR {exc}"
        finally:
            interp.shutdown()
    return run_in_own


@pytest.fixture(autouse=True)
def shared_session_survives(request):
    yield
    if "sandbox" in request.fixturenames:
        assert run(request.getfixturevalue("sandbox"), "print('still alive')").strip() == "still alive"


def test_runner_starts_without_deno_land(sandbox):
    assert any(arg.startswith("--import-map=") for arg in sandbox.deno_command)
    assert run(sandbox, "print(6 * 7)").strip() == "42"


def test_tool_bridge_carries_large_and_unicode_payloads(sandbox):
    # Lines longer than the shim's 64 KiB read buffer and multi-byte characters must survive intact.
    out = run(sandbox, "s = echo(text='ä€' * 50000 + '\\n' + 'x' * 100000)\nprint(len(s), s[:2], s[-1])")
    assert out.split() == ["200001", "ä€", "x"]


def test_cannot_read_host_files(sandbox, run_fresh, tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    assert SECRET not in run(sandbox, f"print(open({str(secret_file)!r}).read())")
    out = run_fresh(f"from js import Deno\nprint(Deno.readTextFileSync({str(secret_file)!r}))")
    assert out.startswith("ERROR") and SECRET not in out


def test_cannot_read_host_environment(sandbox, run_fresh):
    out = run(sandbox, "import os\nprint(os.environ.get('RLMBENCH_TEST_SECRET'), os.environ.get('GROQ_API_KEY'))")
    assert out.strip() == "None None"
    out = run_fresh("from js import Deno\nprint(Deno.env.get('RLMBENCH_TEST_SECRET'))")
    assert out.startswith("ERROR") and SECRET not in out


def test_cannot_open_network_connections(run_fresh):
    with leak_catcher() as (url, hits):
        fetched = run_fresh(f"from pyodide.http import pyfetch\nr = await pyfetch({url!r})\nprint(r.status)")
        socketed = run_fresh(f"import urllib.request\nprint(urllib.request.urlopen({url!r}).status)")
    assert fetched.startswith("ERROR") and socketed.startswith("ERROR")
    assert hits == []


def test_cannot_start_processes(sandbox, run_fresh):
    assert run(sandbox, "import subprocess\nsubprocess.run(['id'])").startswith("ERROR")
    out = run_fresh("from js import Deno\nDeno.Command.new('id').outputSync()")
    assert out.startswith("ERROR")


def test_writes_stay_in_the_sandbox_memory_filesystem(sandbox, run_fresh, tmp_path):
    # /tmp exists both in Pyodide's memory filesystem and on the host: a write there must stay inside.
    target = f"/tmp/rlmbench-sandbox-write-{os.getpid()}.txt"
    try:
        assert run(sandbox, f"open({target!r}, 'w').write('x')\nprint(open({target!r}).read())").strip() == "x"
        assert not os.path.exists(target)
        host_target = tmp_path / "written.txt"
        assert run_fresh(f"from js import Deno\nDeno.writeTextFileSync({str(host_target)!r}, 'y')").startswith("ERROR")
        assert not host_target.exists()
    finally:
        if os.path.exists(target):
            os.remove(target)

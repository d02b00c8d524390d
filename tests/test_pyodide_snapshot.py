"""The warm pool's boot from a Pyodide memory snapshot: made once, checked before every use, never
loaded stale or corrupt, as isolated as DSPy's stock boot, and never a reason to leave the sandbox."""

import json
import os

import dspy
import pytest
from dspy.primitives.code_interpreter import CodeExecutionError, CodeInterpreterError
from dspy.primitives.python_interpreter import _find_deno_executable
from helpers import deno_children

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.models import build_lm
from rlmbench.lm.settings import ModelSettings
from rlmbench.run.runner import run_once
from rlmbench.sandbox.interpreter import SandboxSupply, SnapshotInterpreter
from rlmbench.sandbox.snapshot import Snapshot, SnapshotStore
from rlmbench.tasks.task import Case
from rlmbench.tasks.task_file import load_task

DENO = _find_deno_executable()
DRUGS = load_task("drugs")
CASE = Case({"medications": ["warfarin", "aspirin", "metformin"], "conditions": ["chronic_kidney_disease"]})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    notices = []
    made = SnapshotStore(notices.append, tmp_path_factory.mktemp("snapshots"))
    made.snapshot(DENO)
    assert len(notices) == 1 and "made" in notices[0] and "none cached" in notices[0]
    return made


def _execute(interp, code):
    try:
        return str(interp.execute(code))
    except (CodeExecutionError, CodeInterpreterError) as exc:
        return f"ERROR {exc}"


def test_a_cached_snapshot_is_found_without_making_it_again(store):
    notices = []
    again = SnapshotStore(notices.append, store.directory).snapshot(DENO)
    assert notices == [] and again.path == store.snapshot(DENO).path and again.made_s is None


@pytest.mark.parametrize("damage, says", [("corrupt", "the cached one is corrupt"),
                                          ("stale", "another Pyodide build")])
def test_a_corrupt_or_stale_snapshot_is_made_again_never_loaded(store, damage, says):
    path = store.snapshot(DENO).path
    sidecar = path.with_suffix(".json")
    if damage == "corrupt":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        recorded = json.loads(sidecar.read_text())
        sidecar.write_text(json.dumps({**recorded, "pyodide_build_sha256": "0" * 64}))
    notices = []
    remade = SnapshotStore(notices.append, store.directory).snapshot(DENO)
    assert len(notices) == 1 and says in notices[0] and "\n" not in notices[0]
    assert remade.made_s is not None
    assert SnapshotStore(notices.append, store.directory).snapshot(DENO).made_s is None  # and it checks out now


def test_sandboxes_from_one_snapshot_are_fresh_and_isolated(store, tmp_path):
    snapshot = store.snapshot(DENO)
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-leak")
    draws = []
    for _ in range(2):
        interp = SnapshotInterpreter(snapshot, tools={"echo": lambda text: text})
        try:
            interp.start()
            draws.append(_execute(interp, "import random\nprint(random.random(), echo(text='ok'))").split())
            assert _execute(interp, f"print(open({str(secret)!r}).read())").startswith("ERROR")
            assert _execute(interp, f"print(open({str(snapshot.path)!r}, 'rb').read(4))").startswith("ERROR")
        finally:
            interp.shutdown()
    assert draws[0][1] == draws[1][1] == "ok"
    assert draws[0][0] != draws[1][0]  # the snapshot froze the RNG; each sandbox reseeds it
    # Through Deno's own API, the snapshot file is no more readable than any host file once it is loaded.
    interp = SnapshotInterpreter(snapshot)
    try:
        out = _execute(interp, f"from js import Deno\nprint(len(Deno.readFileSync({str(snapshot.path)!r})))")
    finally:
        interp.shutdown()
    assert out.startswith("ERROR")


class _BrokenOnDisk(SnapshotStore):
    """A snapshot that passed its check and then fails to restore (the file changed under it)."""

    def _check_or_make(self, deno):
        good = super()._check_or_make(deno)
        broken = self.directory / "broken.snapshot"
        broken.write_bytes(b"not a snapshot")
        return Snapshot(broken, good.runner)


def test_a_snapshot_that_fails_to_restore_leaves_the_pool_on_the_stock_boot(store):
    notices = []
    lm = build_lm(ModelSettings(model="oracle"), DRUGS.schema)
    with SandboxSupply(warm=True, snapshots=_BrokenOnDisk(notices.append, store.directory)) as supply:
        with dspy.context(lm=lm, track_usage=True):
            record, _ = run_once(DRUGS, "rlm", 1, lm, ApproachConfig(), CASE, sandboxes=supply)
    assert record.ok and record.sandbox_boot_kind == "stock"
    assert any("failed to restore" in n for n in notices)
    assert deno_children(os.getpid()) == []


def test_warm_runs_boot_from_the_snapshot_and_cold_runs_the_stock_way(store):
    lm = build_lm(ModelSettings(model="oracle"), DRUGS.schema)
    kinds = {}
    for warm in (True, False):
        with SandboxSupply(warm=warm, snapshots=store) as supply, dspy.context(lm=lm, track_usage=True):
            record, _ = run_once(DRUGS, "rlm", 1, lm, ApproachConfig(), CASE, sandboxes=supply)
        assert record.ok and record.coverage.covered == record.coverage.required
        kinds[warm] = (record.sandbox_boot_kind, record.sandbox_boot_in_wall_time)
    assert kinds == {True: ("snapshot", False), False: ("stock", True)}


def test_a_cache_that_cannot_be_written_leaves_the_pool_on_the_stock_boot(tmp_path):
    not_a_directory = tmp_path / "cache"
    not_a_directory.write_text("a file where the cache directory should be")
    notices = []
    lm = build_lm(ModelSettings(model="oracle"), DRUGS.schema)
    with SandboxSupply(warm=True, snapshots=SnapshotStore(notices.append, not_a_directory)) as supply:
        with dspy.context(lm=lm, track_usage=True):
            record, _ = run_once(DRUGS, "rlm", 1, lm, ApproachConfig(), CASE, sandboxes=supply)
    assert record.ok and record.sandbox_boot_kind == "stock"
    assert len(notices) == 1 and notices[0].startswith("Pyodide snapshot not used, sandboxes boot the stock way")

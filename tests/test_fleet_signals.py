"""A fleet run stopped by a signal, as a deployment stops it (SIGTERM) or a person
(Ctrl-C): a real `dbshift fleet upgrade` process on real targets, with a migration that
waits where the test wants the signal to land.

The first signal starts no more targets and stops each running one between two
migrations; the report is written and says what each applied; a second signal exits
at once; and a run run again finishes the rest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dbshift.fleet.report import FleetReport, TargetResult, merge
from tests.test_fleet import UNREACHABLE, Fleet, by_name

#: seconds a process is given to react, on a loaded two-core machine
PATIENCE = 60


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    for _ in range(PATIENCE * 100):
        if path.exists() or process.poll() is not None:
            break
        threading.Event().wait(0.01)
    assert path.exists(), f"the run never reached {path.name}: {process.communicate()}"


def add_pause(fleet: Fleet, until: str) -> tuple[Path, list[str]]:
    """A fourth migration that passes on the first target and waits on the second to
    reach it (`until`: Python waiting for something), and a fifth after it."""
    root = fleet.project.root
    reached, first = root / "reached", root / "first"
    fleet.project.python(
        "pause",
        "def pause(conn):\n"
        "    import os, pathlib, time\n"
        f"    go = pathlib.Path({str(root / 'go')!r})\n"
        "    def claim(path):\n"
        "        try:\n"
        "            os.close(os.open(path, os.O_CREAT | os.O_EXCL))\n"
        "            return True\n"
        "        except FileExistsError:\n"
        "            return False\n"
        f"    if not claim({str(first)!r}) and claim({str(reached)!r}):\n"
        f"        {until}\n"
        "op.run(pause)",
    )
    fleet.project.python("after", 'op.add_column("items", sa.Column("after", sa.Integer))')
    return reached, [p.stem for p in sorted(fleet.project.migrations.glob("*.py"))]


def start(fleet: Fleet, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dbshift", "fleet", "upgrade", "--jobs", "2", *args],
        cwd=fleet.project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def fleet(backend: str, tmp_path: Path, scratch: object, capsys: object) -> Fleet:
    return Fleet(backend, tmp_path / "proj", scratch, capsys, 5)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_between_migrations_and_the_report_says_so(
    fleet: Fleet, signum: signal.Signals
) -> None:
    reached, ids = add_pause(fleet, "while not go.exists(): time.sleep(0.01)")
    report_file = fleet.project.root / "report.json"
    process = start(fleet, "--json", "--report", str(report_file))
    try:
        wait_for(reached, process)
        process.send_signal(signum)
        threading.Event().wait(1)  # the handler runs in the main thread, while it waits
        (fleet.project.root / "go").write_text("go")
        out, err = process.communicate(timeout=PATIENCE)
    finally:
        process.kill()
    code = 143 if signum == signal.SIGTERM else 130
    assert process.returncode == code, err
    assert "Traceback" not in err
    document = json.loads(out)
    assert json.loads(report_file.read_text()) == document
    assert document["signal"] == signum.name and document["exit_code"] == code
    assert document["stopped"] == f"interrupted by {signum.name}"
    targets = by_name(document)
    # the one that waited finished its migration and stopped before the next; another
    # running beside it may have stopped so too
    interrupted = {n: t for n, t in targets.items() if t["status"] == "interrupted"}
    assert any(t["migrations"] == ids[:4] for t in interrupted.values()), targets
    for target in interrupted.values():
        done = len(target["migrations"])
        assert target["exit_code"] == code
        assert f"before {ids[done]} ({done} of {len(ids)} done)" in target["error"]
    assert targets[fleet.names[0]]["status"] == "done"
    for name, target in targets.items():  # what each says it applied, it did
        assert target["status"] in ("done", "interrupted", "skipped")
        assert fleet.applied(name) == sorted(target["migrations"])

    again = by_name(fleet.project.ok("fleet", "upgrade", "--json").json)
    for name in fleet.names:
        assert fleet.applied(name) == ids
        assert again[name]["migrations"] == ids[len(targets[name]["migrations"]) :]


@pytest.mark.slow
def test_a_second_signal_exits_at_once(fleet: Fleet) -> None:
    """The migration that waits would wait ten minutes: the second Ctrl-C does not."""
    reached, ids = add_pause(fleet, "time.sleep(600)")
    process = start(fleet)
    try:
        wait_for(reached, process)
        process.send_signal(signal.SIGINT)
        threading.Event().wait(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=PATIENCE)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "stopped at once by a second signal (SIGINT)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    waited = [n for n in fleet.names if len(fleet.applied(n)) == 3]
    assert waited, "the waiting target's migration did not roll back"
    fleet.project.ok("fleet", "upgrade")
    for name in fleet.names:
        assert fleet.applied(name) == ids


@pytest.mark.backends("sqlite")
def test_no_fleet_url_password_is_printed_even_with_debug(fleet: Fleet) -> None:
    """Unreachable targets and an unreachable control database, with --debug and -v:
    the passwords of their URLs are masked in every line."""
    secret_control = UNREACHABLE.replace("hunter2secret", "c0ntr0lsecret")
    for args in (
        ("--target-url", UNREACHABLE, "--target-url", fleet.urls[fleet.names[0]]),
        ("--query", "SELECT url FROM tenants", "--control-url", secret_control),
    ):
        for output in ("--json", "-v"):
            result = fleet.project.cli("--debug", output, "fleet", "upgrade", *args)
            assert result.code == 3, result.err
            text = result.out + result.err
            assert "hunter2secret" not in text and "c0ntr0lsecret" not in text, text
            assert "***" in text


def test_a_merged_report_keeps_the_stop_while_a_target_it_left_is_undone() -> None:
    def result(name: str, status: str) -> TargetResult:
        return TargetResult(name, name, status, exit_code=130 if status == "interrupted" else 0)

    stopped = FleetReport(
        "upgrade",
        (result("a", "done"), result("b", "interrupted"), result("c", "skipped")),
        stopped="interrupted by SIGINT",
        signal="SIGINT",
    )
    assert stopped.exit_code == 130
    assert FleetReport.from_json(json.loads(json.dumps(stopped.to_json()))) == stopped
    half = FleetReport("upgrade", (result("b", "done"),))
    assert merge([stopped, half]).exit_code == 130  # c is still undone
    finished = merge([stopped, FleetReport("upgrade", (result("b", "done"), result("c", "done")))])
    assert finished.exit_code == 0 and finished.signal is None and finished.stopped is None

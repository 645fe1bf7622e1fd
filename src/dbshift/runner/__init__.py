"""Plan (pure, no I/O) -> lock -> verify -> execute -> record.

Each migration runs in its own transaction together with its history row. On a backend
without transactional DDL (MySQL/MariaDB), or for a migration marked
`transactional = False`, it runs statement by statement, each in a transaction of its
own with the history's record of it (see `journal`), so a failure part-way is reported
honestly and a lost connection never makes a statement run twice. A statement waits for
a table lock only briefly; when it gives up, the migration is retried (see `dbshift.retry`).

What a run does is logged to `dbshift.runner` (the plan, each migration, retries,
failures) and `dbshift.lock` (waiting for another runner); see docs/api.md, "Logging".

The modules, each readable alone:

- `plan`: Step, Plan, planning and verifying the history (pure, no I/O);
- `report`: RunReport, StepResult, Retry, the Listener protocol, and the run's log lines;
- `lock`: the held runner lock (`Held`): guarded transactions, waiting, the lease;
- `journal`: the history's record of a statement-by-statement run, and `Probe`;
- `failures`: a driver's or a migration's error as the MigrationError the user reads;
- `checks`: refusals made before anything runs;
- `execute`: the Runner (migrate, stamp, repair; running one step, retrying it); what
  each step runs comes from `dbshift.migrations.replay` (loaded once, or derived).

Importing this package stays light, and so does an upgrade with nothing pending (what
every pod runs at every start): operation, dialect, schema, replay and journal code is
imported on first use, inside the functions that need it (tests/test_architecture.py).
"""

from typing import Any

from dbshift.runner.execute import Runner
from dbshift.runner.lock import busy_as_lock_timeout
from dbshift.runner.plan import Direction, Plan, Step, make_plan, other_backend, verify
from dbshift.runner.report import Listener, Retry, RunReport, StepResult


def __getattr__(name: str) -> Any:
    """`derive_downgrade`, public here before it moved to `dbshift.migrations.replay`,
    which this package imports only when a step runs (lazy: a no-op upgrade)."""
    if name == "derive_downgrade":
        # lazy: a no-op upgrade replays nothing
        from dbshift.migrations.replay import derive_downgrade

        return derive_downgrade
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Direction",
    "Listener",
    "Plan",
    "Retry",
    "RunReport",
    "Runner",
    "Step",
    "StepResult",
    "busy_as_lock_timeout",
    "derive_downgrade",
    "make_plan",
    "other_backend",
    "verify",
]

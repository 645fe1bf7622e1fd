"""Fleets (docs/fleet.md): one history on many targets, on real servers: PostgreSQL
schemas and databases, MariaDB databases, SQLite files; with a broken tenant, a locked
one and an unreachable one."""

from __future__ import annotations

import contextlib
import json
import marshal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dbshift import api
from dbshift.config import Config
from dbshift.dialects import lock_for
from dbshift.errors import ConfigError
from dbshift.fleet import fleet_status, fleet_targets, fleet_upgrade
from dbshift.fleet.targets import Target, shard
from dbshift.migrations import loader, sumfile
from dbshift.migrations.scripts import scan
from dbshift.runner.cache import TENANT, cache_key
from tests.conftest import SERVER_URLS, ScratchDatabases
from tests.helpers import Project

UNREACHABLE = "postgresql+psycopg://postgres:hunter2secret@127.0.0.1:1/nowhere"


class Fleet:
    """A project whose `[fleet]` names `count` targets of one backend."""

    def __init__(
        self, backend: str, root: Path, scratch: ScratchDatabases, capsys: Any, count: int
    ) -> None:
        self.backend = backend
        self.names: list[str] = []
        self.urls: dict[str, str] = {}
        self.schemas: dict[str, str | None] = {}
        uid = uuid.uuid4().hex[:8]
        if backend == "sqlite":
            url = f"sqlite:///{root / 'control.db'}"
            (root / "tenants").mkdir(parents=True)
            for i in range(count):
                path = root / "tenants" / f"t{i:02d}.db"
                sqlite3.connect(path).close()
                self._add(f"tenants/t{i:02d}.db", f"sqlite:///{path}", None)
            self.source = 'sqlite = "tenants/*.db"'
        elif backend == "postgresql":
            url = scratch.create()
            engine = sa.create_engine(url, poolclass=sa.NullPool)
            with engine.begin() as conn:
                for i in range(count):
                    conn.execute(sa.text(f"CREATE SCHEMA tenant_{i:02d}"))
                    self._add(f"tenant_{i:02d}", url, f"tenant_{i:02d}")
            engine.dispose()
            self.source = 'schemas = "tenant_*"'
        else:
            url = scratch.create()
            admin = sa.create_engine(SERVER_URLS["mysql"], poolclass=sa.NullPool)
            with admin.connect() as conn:
                for i in range(count):
                    name = f"fl_{uid}_{i:02d}"
                    conn.execute(sa.text(f"CREATE DATABASE {name}"))
                    scratch.created.append(name)
                    target = sa.make_url(url).set(database=name).render_as_string(False)
                    self._add(name, target, None)
            admin.dispose()
            self.source = f'databases = "fl_{uid}_*"'
        self.project = Project(root, url, capsys)
        self.configure()
        self.ids = [
            self.project.python(
                "items",
                'op.create_table("items", sa.Column("id", sa.Integer, primary_key=True), '
                'sa.Column("name", sa.String(50)))',
            ),
            self.project.python("price", 'op.add_column("items", sa.Column("price", sa.Integer))'),
            self.project.python(
                "raw",
                'op.execute("CREATE TABLE raw_things (id INTEGER)")',
                'op.execute("DROP TABLE raw_things")',
            ),
        ]

    def _add(self, name: str, url: str, schema: str | None) -> None:
        self.names.append(name)
        self.urls[name] = url
        self.schemas[name] = schema

    def configure(self, extra: str = "", urls: tuple[str, ...] = ()) -> None:
        listed = f"urls = {json.dumps(list(urls))}\n" if urls else ""
        (self.project.root / "dbshift.toml").write_text(
            f'url = "{self.project.url}"\nrunner_lock_timeout = 1\n'
            f"[fleet]\n{self.source}\n{listed}{extra}\n"
        )

    @contextlib.contextmanager
    def connect(self, name: str) -> Iterator[sa.Connection]:
        engine = sa.create_engine(self.urls[name], poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    def tables(self, name: str) -> set[str]:
        with self.connect(name) as conn:
            return set(sa.inspect(conn).get_table_names(schema=self.schemas[name]))

    def applied(self, name: str) -> list[str]:
        if "dbshift_history" not in self.tables(name):
            return []
        schema = self.schemas[name]
        table = f'"{schema}".dbshift_history' if schema else "dbshift_history"
        with self.connect(name) as conn:
            rows = conn.execute(
                sa.text(f"SELECT id FROM {table} WHERE state = 'applied' ORDER BY id")
            )
            return [str(r[0]) for r in rows]

    def execute(self, name: str, sql: str) -> None:
        with self.connect(name) as conn:
            schema = self.schemas[name]
            if schema:
                conn.execute(sa.text(f'SET search_path TO "{schema}"'))
            conn.execute(sa.text(sql))
            conn.commit()

    @contextlib.contextmanager
    def held(self, name: str) -> Iterator[None]:
        """Another runner's lock on the target, held from the test."""
        if self.backend == "sqlite":
            raw = sqlite3.connect(sa.make_url(self.urls[name]).database or "")
            raw.isolation_level = None
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                raw.execute("ROLLBACK")
                raw.close()
            return
        with self.connect(name) as conn:
            lock = lock_for(conn, "dbshift_", self.schemas[name])
            if lock.exclusive:
                lock.acquire(conn, 5)
                try:
                    yield
                finally:
                    lock.release(conn)
            else:
                conn.begin()
                assert lock.guard(conn, "the test")
                try:
                    yield
                finally:
                    conn.rollback()


@pytest.fixture
def fleet(backend: str, tmp_path: Path, scratch: ScratchDatabases, capsys: Any) -> Fleet:
    return Fleet(backend, tmp_path / "proj", scratch, capsys, 5)


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in document["targets"]}


def test_upgrade_applies_every_target_once_then_nothing(fleet: Fleet) -> None:
    result = fleet.project.ok("fleet", "upgrade", "--json")
    report = by_name(result.json)
    assert sorted(report) == fleet.names
    for name in fleet.names:
        assert report[name]["status"] == "done"
        assert report[name]["migrations"] == fleet.ids
        assert fleet.applied(name) == fleet.ids
        assert {"items", "raw_things"} <= fleet.tables(name)
    again = by_name(fleet.project.ok("fleet", "upgrade", "--json").json)
    assert all(t["status"] == "done" and t["migrations"] == [] for t in again.values())
    status = fleet.project.ok("fleet", "status", "--json").json
    assert status["counts"] == {"at_head": len(fleet.names)}


def test_status_says_behind_by_how_much_and_locked(fleet: Fleet) -> None:
    fleet.project.ok("fleet", "upgrade", fleet.ids[0])
    with fleet.held(fleet.names[0]):
        status = by_name(fleet.project.ok("fleet", "status", "--json").json)
    assert status[fleet.names[0]]["status"] in ("locked", "behind")
    if fleet.backend != "sqlite":  # SQLite's write lock names no holder
        assert status[fleet.names[0]]["status"] == "locked"
    for name in fleet.names[1:]:
        assert status[name]["status"] == "behind"
        assert status[name]["behind"] == 2
        assert status[name]["migrations"] == fleet.ids[1:]
    plain = fleet.project.ok("fleet", "status").out
    assert f"{fleet.names[1]}: behind by 2" in plain
    assert f"behind: {len(fleet.names)} by 2" in plain
    if fleet.backend != "sqlite":  # at head but locked: `check` cannot pass it (it exited 0)
        fleet.project.ok("fleet", "upgrade")
        with fleet.held(fleet.names[0]):
            checked = by_name(fleet.project.fails(1, "fleet", "check", "--json").json)
        assert checked[fleet.names[0]]["status"] == "locked"


def test_faults_are_reported_and_a_rerun_after_the_fix_finishes(fleet: Fleet) -> None:
    broken, locked = fleet.names[1], fleet.names[2]
    fleet.execute(broken, "CREATE TABLE items (other INTEGER)")  # the first migration fails
    fleet.configure(urls=(UNREACHABLE,))
    with fleet.held(locked):
        result = fleet.project.fails(3, "fleet", "upgrade", "--json")
    assert "hunter2secret" not in result.out + result.err
    report = by_name(result.json)
    assert report[broken]["status"] == "failed"
    assert report[broken]["exit_code"] == 3
    assert fleet.ids[0] in report[broken]["error"]
    assert report[locked]["status"] == "locked"
    assert report[locked]["exit_code"] == 5
    unreachable = next(t for t in report.values() if t["identity"].endswith("/nowhere"))
    assert unreachable["status"] == "failed"
    assert unreachable["exit_code"] == 3
    assert "***" in unreachable["identity"]
    others = [n for n in fleet.names if n not in (broken, locked)]
    for name in others:
        assert report[name]["status"] == "done"
        assert fleet.applied(name) == fleet.ids
    assert fleet.applied(broken) == [] and fleet.applied(locked) == []

    fleet.execute(broken, "DROP TABLE items")  # the fix; and the unreachable one is gone
    fleet.configure()
    again = by_name(fleet.project.ok("fleet", "upgrade", "--json").json)
    assert again[broken]["migrations"] == fleet.ids
    assert again[locked]["migrations"] == fleet.ids
    assert all(again[name]["migrations"] == [] for name in others)
    for name in fleet.names:
        assert fleet.applied(name) == fleet.ids


def test_two_fleet_runs_and_a_targets_own_upgrade_never_apply_twice(fleet: Fleet) -> None:
    fleet.configure("jobs = 2")
    config = Config.load(fleet.project.root / "dbshift.toml", runner_lock_timeout=60)
    own = next(t for t in fleet_targets(config) if t.name == fleet.names[0])
    reports: list[Any] = []
    errors: list[BaseException] = []

    def fleet_run() -> None:
        try:
            reports.append(fleet_upgrade(config))
        except BaseException as error:
            errors.append(error)

    def own_run() -> None:
        try:
            reports.append(api.upgrade(own.config))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=fn) for fn in (fleet_run, fleet_run, own_run)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    applied: list[str] = []
    for report in reports:
        if hasattr(report, "results") and not hasattr(report, "plan"):
            assert report.failures == []
            applied += [m for r in report.results for m in r.migrations]
        else:
            applied += report.done
    assert sorted(applied) == sorted(fleet.ids * len(fleet.names))
    for name in fleet.names:
        assert fleet.applied(name) == fleet.ids


@pytest.mark.backends("sqlite")
def test_failure_policy_fail_fast_max_failures_canary(fleet: Fleet) -> None:
    for name in (fleet.names[1], fleet.names[3]):
        fleet.execute(name, "CREATE TABLE items (other INTEGER)")
    fast = by_name(
        fleet.project.fails(3, "fleet", "upgrade", "--jobs", "1", "--fail-fast", "--json").json
    )
    assert [fast[n]["status"] for n in fleet.names] == ["done", "failed"] + ["skipped"] * 3
    most = fleet.project.fails(
        3, "fleet", "upgrade", "--jobs", "1", "--max-failures", "2", "--json"
    )
    statuses = [by_name(most.json)[n]["status"] for n in fleet.names]
    assert statuses == ["done", "failed", "done", "failed", "skipped"]
    assert "max-failures" in most.json["stopped"]
    canary = fleet.project.fails(3, "fleet", "upgrade", "--canary", "2", "--json")
    statuses = [by_name(canary.json)[n]["status"] for n in fleet.names]
    assert statuses == ["done", "failed", "skipped", "skipped", "skipped"]
    assert "canary" in canary.json["stopped"]


@pytest.mark.backends("sqlite")
def test_shards_cover_the_fleet_once_and_their_reports_merge(fleet: Fleet) -> None:
    root = fleet.project.root
    a = fleet.project.ok("fleet", "upgrade", "--shard", "0/2", "--report", str(root / "a.json"))
    b = fleet.project.ok("fleet", "upgrade", "--shard", "1/2", "--report", str(root / "b.json"))
    assert a.out and b.out
    merged = fleet.project.ok(
        "fleet", "report", str(root / "a.json"), str(root / "b.json"), "--json"
    )
    assert sorted(by_name(merged.json)) == fleet.names
    assert merged.json["shards"] == ["0/2", "1/2"]
    assert all(t["migrations"] == fleet.ids for t in merged.json["targets"])
    plain = fleet.project.ok("fleet", "report", str(root / "a.json"), str(root / "b.json")).out
    assert "upgrade: 5 targets (5 done)" in plain
    fleet.project.fails(2, "fleet", "report", str(root / "dbshift.toml"))
    fleet.project.fails(2, "fleet", "upgrade", "--shard", "2/2")


def test_shards_are_stable_when_the_list_changes(tmp_path: Path) -> None:
    targets = [
        Target(f"t{i}", Config(url=f"sqlite:///{tmp_path}/t{i}.db", migrations=tmp_path))
        for i in range(40)
    ]
    slices = [shard(targets, f"{i}/4") for i in range(4)]
    names = [t.name for s in slices for t in s]
    assert sorted(names) == sorted(t.name for t in targets)  # each once
    assert all(slices)  # 40 targets hash into every one of 4 slices
    fewer = [shard(targets[5:], f"{i}/4") for i in range(4)]
    for before, after in zip(slices, fewer, strict=True):
        assert [t.name for t in before if t in targets[5:]] == [t.name for t in after]


@pytest.mark.backends("sqlite")
def test_fleet_table_is_checked(fleet: Fleet) -> None:
    """As the configuration loads, by every command: a typo in [fleet] is found by the
    `dbshift check` in CI, not by the deployment's first fleet run."""
    fleet.configure("bogus = 1")
    error = fleet.project.fails(2, "fleet", "status").err
    assert "unknown key 'bogus'" in error and len(error.strip().splitlines()) == 1
    assert "[fleet]: unknown key 'bogus'" in fleet.project.fails(2, "check").err
    with pytest.raises(ConfigError, match="`canary` must be a whole number"):
        Config(url="sqlite://", fleet={"canary": -1})
    fleet.configure("jobs = 0")
    assert "`jobs` must be a whole number" in fleet.project.fails(2, "fleet", "status").err
    fleet.configure()
    (fleet.project.root / "dbshift.toml").write_text(f'url = "{fleet.project.url}"\n')
    assert "no fleet targets" in fleet.project.fails(2, "fleet", "upgrade").err


@pytest.mark.backends("postgresql")
def test_postgresql_databases_by_pattern(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    uid = uuid.uuid4().hex[:8]
    admin = sa.create_engine(SERVER_URLS["postgresql"], poolclass=sa.NullPool)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for i in range(3):
            conn.execute(sa.text(f"CREATE DATABASE fl_{uid}_{i}"))
            scratch.created.append(f"fl_{uid}_{i}")
    admin.dispose()
    project = Project(tmp_path / "proj", SERVER_URLS["postgresql"], capsys)
    (project.root / "dbshift.toml").write_text(
        f'url = "{SERVER_URLS["postgresql"]}"\n[fleet]\ndatabases = "fl_{uid}_*"\n'
    )
    first = project.python("items", 'op.create_table("items", sa.Column("id", sa.Integer))')
    report = by_name(project.ok("fleet", "upgrade", "--json").json)
    assert sorted(report) == [f"fl_{uid}_{i}" for i in range(3)]
    assert all(t["migrations"] == [first] for t in report.values())


@pytest.mark.backends("postgresql")
def test_tenant_schemas_compile_once_and_key_the_cache_by_search_path(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = Fleet("postgresql", tmp_path / "proj", scratch, capsys, 20)
    loads: list[str] = []
    real = loader.import_module

    def counting(path: Path, migration_id: str) -> Any:
        loads.append(migration_id)
        return real(path, migration_id)

    monkeypatch.setattr(loader, "import_module", counting)
    report = by_name(fleet.project.ok("fleet", "upgrade", "--jobs", "4", "--json").json)
    assert all(t["migrations"] == fleet.ids for t in report.values())
    assert sorted(loads) == sorted(fleet.ids)  # once per run, not once per tenant
    kept = list((fleet.project.migrations / "__pycache__").glob("dbshift-statements-*"))
    assert len(kept) == 1
    key_text = marshal.loads(kept[0].read_bytes())[1]
    assert TENANT in key_text and "tenant_00" not in key_text
    # nothing landed outside the tenants' schemas
    with fleet.connect(fleet.names[0]) as conn:
        assert "items" not in sa.inspect(conn).get_table_names(schema="public")
        same = cache_key(conn, "a", ("a", "public"))
        assert same == cache_key(conn, "b", ("b", "public"))
        assert same != cache_key(conn, "a", ("a", "shared"))
        assert same != cache_key(conn, "a") != cache_key(conn, None)


@pytest.mark.backends("postgresql")
def test_a_hostile_schema_name_is_quoted(
    tmp_path: Path, scratch: ScratchDatabases, capsys: Any
) -> None:
    url = scratch.create()
    odd = 'tenant_Odd"; DROP TABLE x; --'
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE SCHEMA "tenant_Odd""; DROP TABLE x; --"'))
    project = Project(tmp_path / "proj", url, capsys)
    (project.root / "dbshift.toml").write_text(f'url = "{url}"\n[fleet]\nschemas = "tenant_*"\n')
    first = project.python("items", 'op.create_table("items", sa.Column("id", sa.Integer))')
    report = by_name(project.ok("fleet", "upgrade", "--json").json)
    assert report[odd]["migrations"] == [first]
    with engine.connect() as conn:
        assert "items" in sa.inspect(conn).get_table_names(schema=odd)
    engine.dispose()


def test_python_api_results_have_to_json(fleet: Fleet) -> None:
    config = Config.load(fleet.project.root / "dbshift.toml")
    report = fleet_upgrade(config, jobs=2)
    assert report.exit_code == 0
    document = report.to_json()
    assert document["counts"] == {"done": len(fleet.names)}
    assert json.loads(json.dumps(document))["targets"][0]["migrations"] == fleet.ids
    status = fleet_status(config)
    assert {r.status for r in status.results} == {"at_head"}


@pytest.mark.backends("sqlite")
def test_a_killed_run_run_again_finishes_the_rest(fleet: Fleet) -> None:
    """The run is killed (SIGKILL) in the middle of one target's migration: the targets
    before it are done, that one keeps what committed, and a second run finishes all."""
    marker = fleet.project.root / "reached"
    fleet.project.python(
        "pause",
        "def pause(conn):\n"
        "    import pathlib, time\n"
        f"    marker = pathlib.Path({str(marker)!r})\n"
        f"    if {fleet.names[2]!r} in str(conn.engine.url) and not marker.exists():\n"
        "        marker.write_text('here')\n"
        "        time.sleep(600)\n"
        "op.run(pause)",
    )
    ids = [p.stem for p in sorted(fleet.project.migrations.glob("*.py"))]
    process = subprocess.Popen(
        [sys.executable, "-m", "dbshift", "fleet", "upgrade", "--jobs", "1"],
        cwd=fleet.project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(6000):  # waits for the marker, at most a minute
            if marker.exists() or process.poll() is not None:
                break
            threading.Event().wait(0.01)
        assert marker.exists(), "the run never reached the third target"
    finally:
        process.kill()
        process.wait()
    assert fleet.applied(fleet.names[0]) == ids
    assert fleet.applied(fleet.names[1]) == ids
    assert fleet.applied(fleet.names[2]) == ids[:3]  # the pause's transaction rolled back
    assert fleet.applied(fleet.names[3]) == []
    again = by_name(fleet.project.ok("fleet", "upgrade", "--json").json)
    assert again[fleet.names[0]]["migrations"] == []
    assert again[fleet.names[2]]["migrations"] == ids[3:]
    assert again[fleet.names[4]]["migrations"] == ids
    for name in fleet.names:
        assert fleet.applied(name) == ids


@pytest.mark.backends("sqlite")
def test_per_server_bounds_how_many_run_at_once_on_one_server(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "20260101T000001_items.py").write_text(
        'parents = []\n\n\ndef upgrade(op):\n    op.execute("CREATE TABLE items (id INTEGER)")\n'
    )
    sumfile.write(migrations, scan(migrations))
    targets = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(4):
            url = f"sqlite:///{tmp_path / folder / f't{i}.db'}"
            targets.append(url)
    config = Config(url=f"sqlite:///{tmp_path / 'control.db'}", migrations=migrations)

    class Counting:
        def __init__(self) -> None:
            self.now: dict[str, int] = {}
            self.most: dict[str, int] = {}

        def started(self, target: Target) -> None:
            self.now[target.server] = self.now.get(target.server, 0) + 1
            self.most[target.server] = max(self.most.get(target.server, 0), self.now[target.server])

        def finished(self, result: Any) -> None:
            server = next(t.server for t in found if t.identity == result.identity)
            self.now[server] -= 1

    found = fleet_targets(config, urls=targets)
    counting = Counting()
    report = fleet_upgrade(config, urls=targets, jobs=4, per_server=1, observer=counting)
    assert report.exit_code == 0 and len(report.results) == 8, report.to_json()
    assert counting.most == {t.server: 1 for t in found}
    assert len(counting.most) == 2


def test_downgrade_and_stamp_over_the_fleet(fleet: Fleet) -> None:
    fleet.project.ok("fleet", "upgrade")
    down = by_name(fleet.project.ok("fleet", "downgrade", "base", "--json").json)
    assert all(t["migrations"] == list(reversed(fleet.ids)) for t in down.values())
    for name in fleet.names:
        assert fleet.applied(name) == []
        assert "items" not in fleet.tables(name)
    fleet.project.ok("fleet", "stamp", fleet.ids[0])
    status = by_name(fleet.project.ok("fleet", "status", "--json").json)
    assert all(t["status"] == "behind" and t["behind"] == 2 for t in status.values())
    assert "behind: 5 by 2" in fleet.project.fails(1, "fleet", "check").out


@pytest.mark.backends("sqlite", "postgresql")
def test_targets_from_a_query_on_a_control_database(fleet: Fleet) -> None:
    """`query`: a row per target, its URL and (PostgreSQL) its schema."""
    rows = [(fleet.urls[n], fleet.schemas[n]) for n in fleet.names[:3]]
    control = sa.create_engine(fleet.project.url, poolclass=sa.NullPool)
    with control.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tenants (url TEXT, tenant_schema TEXT, active INT)"))
        for url, schema in rows:
            conn.execute(
                sa.text("INSERT INTO tenants VALUES (:url, :schema, 1)"),
                {"url": url, "schema": schema},
            )
        conn.execute(sa.text("INSERT INTO tenants VALUES ('sqlite:///gone.db', NULL, 0)"))
    control.dispose()
    query = "SELECT url, tenant_schema FROM tenants WHERE active = 1"
    report = by_name(fleet.project.ok("fleet", "upgrade", "--query", query, "--json").json)
    assert sorted(report) == sorted(schema or url for url, schema in rows)
    assert all(t["migrations"] == fleet.ids for t in report.values())
    for name in fleet.names[:3]:
        assert fleet.applied(name) == fleet.ids
    assert fleet.applied(fleet.names[3]) == []


@pytest.mark.backends("sqlite", "mysql")
def test_a_search_path_or_schema_targets_are_refused_where_there_is_none(
    fleet: Fleet,
) -> None:
    with pytest.raises(ConfigError, match="has none"):
        url = fleet.urls[fleet.names[0]]
        api.status(Config(url=url, migrations=fleet.project.migrations, search_path=("x",)))
    error = fleet.project.fails(2, "fleet", "status", "--schemas", "tenant_*").err
    assert "needs PostgreSQL" in error and len(error.strip().splitlines()) == 1


@pytest.mark.backends("sqlite")
def test_verify_names_every_target_whose_applied_checksum_changed(fleet: Fleet) -> None:
    fleet.project.ok("fleet", "upgrade")
    assert fleet.project.ok("fleet", "verify", "--json").json["exit_code"] == 0
    first = next(fleet.project.migrations.glob(f"{fleet.ids[0]}.py"))
    first.write_text(first.read_text() + "\n# edited after it was applied\n")
    fleet.project.record_sums()
    report = fleet.project.fails(4, "fleet", "verify", "--json").json
    assert report["counts"] == {"failed": len(fleet.names)}
    assert all(fleet.ids[0] in t["error"] and t["exit_code"] == 4 for t in report["targets"])


@pytest.mark.backends("sqlite")
def test_fleet_urls_take_variables_and_exclude_leaves_targets_out(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXTRA_TENANT_URL", fleet.urls[fleet.names[0]])
    fleet.configure(f'exclude = ["{fleet.names[1]}", "*t04*"]', urls=("${EXTRA_TENANT_URL}",))
    config = Config.load(fleet.project.root / "dbshift.toml")
    names = [t.name for t in fleet_targets(config)]
    assert fleet.names[1] not in names and fleet.names[4] not in names
    assert names.count(fleet.names[0]) == 1 and len(names) == 3  # its URL, listed too, runs once
    assert fleet_upgrade(config, jobs=2).exit_code == 0
    assert fleet.applied(fleet.names[1]) == [] and fleet.applied(fleet.names[3]) == fleet.ids


@pytest.mark.backends("sqlite")
def test_a_malformed_target_url_is_one_masked_usage_error(fleet: Fleet) -> None:
    """A URL no driver reads stops the run before any target (it aborted the run
    mid-way), named with its password masked (mask_url did not mask it)."""
    fleet.configure('urls = ["postgres//u:s3cret@h/db"]')
    error = fleet.project.fails(2, "fleet", "upgrade").err
    assert "not a database URL" in error and "u:***@h" in error
    assert "s3cret" not in error and len(error.strip().splitlines()) == 1
    config = Config(url="sqlite://", migrations=fleet.project.root)
    one = fleet_targets(config, urls=["sqlite:///t.db"], shard="0/1")  # `shard=`, as documented
    assert [t.name for t in one] == ["sqlite:///t.db"]


@pytest.mark.backends("sqlite")
def test_what_every_target_would_refuse_alike_is_refused_once_before_any_runs(
    fleet: Fleet,
) -> None:
    """An unknown revision, `-1` going up, `+1` going down, an empty folder: one line,
    exit 2, and no target touched (each target failed with the same line)."""
    for args in (("upgrade", "nosuchid"), ("upgrade", "-1"), ("downgrade", "+1")):
        error = fleet.project.fails(2, "fleet", *args).err
        assert len(error.strip().splitlines()) == 1, error
    for path in fleet.project.migrations.glob("*.py"):
        path.unlink()
    error = fleet.project.fails(2, "fleet", "upgrade").err
    assert error.strip() == "error: there are no migrations (hint: create one with `dbshift new`)"
    assert all(fleet.tables(name) == set() for name in fleet.names)


@pytest.mark.backends("postgresql")
def test_a_schemas_pattern_never_matches_the_servers_own(fleet: Fleet) -> None:
    config = Config.load(fleet.project.root / "dbshift.toml")
    names = [t.name for t in fleet_targets(config, schemas="*")]
    assert sorted(names) == sorted(["public", *fleet.names])  # no pg_*, information_schema
    url = sa.make_url(fleet.project.url)
    servers = {t.server for t in fleet_targets(config)}
    assert servers == {f"postgresql://{url.host}:{url.port or ''}"}


def test_lint_runs_once_for_what_the_fleet_will_run_on_its_servers(fleet: Fleet) -> None:
    """`fleet lint`: the migrations pending on any target, checked once for each server
    version the targets are on (read from them), with the failures of the ones that
    could not be read on stderr and in the exit code."""
    fleet.project.ok("fleet", "upgrade")
    drop = fleet.project.python(
        "drop",
        'op.drop_column("items", "price")',
        'op.add_column("items", sa.Column("price", sa.Integer))',
    )
    report_file = fleet.project.root / "lint.json"
    result = fleet.project.fails(1, "fleet", "lint", "--json", "--report", str(report_file))
    lint = result.json
    assert lint["migrations"] == [drop]
    assert lint["selection"] == f"pending on {len(fleet.names)} of {len(fleet.names)} targets"
    assert "DS102" in [f["code"] for f in lint["findings"]]  # (and PostgreSQL: DS323, a lock)
    (server,) = lint["targets"]  # one server, its version read from it
    assert server.split()[0] == ("mariadb" if fleet.backend == "mysql" else fleet.backend)
    assert any(c.isdigit() for c in server)
    surveyed = json.loads(report_file.read_text())
    assert surveyed["command"] == "lint" and surveyed["counts"] == {"behind": len(fleet.names)}

    every = fleet.project.fails(1, "fleet", "lint", "--all", "--report", str(report_file))
    assert f"{len(fleet.ids) + 1} migration(s) (all migrations) for {server}" in every.out
    assert len(json.loads(report_file.read_text())["targets"]) == 1  # one read per server

    fleet.project.ok("fleet", "upgrade")
    assert fleet.project.ok("fleet", "lint", "--json").json["migrations"] == []

    fleet.configure(urls=(UNREACHABLE,))
    fleet.project.python("more", 'op.add_column("items", sa.Column("more", sa.Integer))')
    broken = fleet.project.fails(3, "fleet", "lint", "--format", "sarif")
    assert json.loads(broken.out)["runs"]  # stdout is the SARIF document alone
    assert "hunter2secret" not in broken.out + broken.err
    (line,) = broken.err.strip().splitlines()
    assert line.startswith("error: postgresql+psycopg://postgres:***@127.0.0.1:1/nowhere: failed")


@pytest.mark.backends("sqlite")
def test_lint_checks_for_each_kind_of_server_in_the_fleet(fleet: Fleet, tmp_path: Path) -> None:
    postgres = ScratchDatabases("postgresql", tmp_path)
    try:
        fleet.configure(urls=(postgres.create(),))
        lint = fleet.project.ok("fleet", "lint", "--all", "--json").json
    finally:
        postgres.drop_all()
    assert [t.split()[0] for t in lint["targets"]] == ["postgresql", "sqlite"]


@pytest.mark.backends("sqlite")
def test_status_fleet_is_fleet_status(fleet: Fleet) -> None:
    summary = fleet.project.ok("status", "--fleet", "--json").json
    assert summary["counts"] == {"behind": len(fleet.names)}
    same = fleet.project.ok("fleet", "status", "--json").json
    assert by_name(summary).keys() == by_name(same).keys()
    assert all(t["behind"] == len(fleet.ids) for t in summary["targets"])
    fleet.project.fails(1, "status", "--fleet", "--check")
    fleet.project.ok("fleet", "upgrade")
    assert "5 targets (5 at head)" in fleet.project.ok("status", "--fleet", "--check").out

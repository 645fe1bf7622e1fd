"""The revision graph: targets, plans and errors, by example and by property."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.errors import DbshiftError, GraphError, UsageError
from dbshift.migrations.graph import Graph

#   a - b - c ----- f
#        \         /
#         d - e --
BRANCHY = {"a": [], "b": ["a"], "c": ["b"], "d": ["b"], "e": ["d"], "f": ["c", "e"]}
ALL = set(BRANCHY)


def _one_line(error: DbshiftError) -> None:
    assert "\n" not in error.message and error.hint and "\n" not in error.hint


# -- shape ---------------------------------------------------------------------------


def test_heads_bases_and_walks() -> None:
    graph = Graph({**BRANCHY, "z": []})
    assert graph.heads == ("f", "z")
    assert graph.bases == ("a", "z")
    assert len(graph) == 7 and "z" in graph and "y" not in graph
    assert graph.ids == frozenset({*BRANCHY, "z"})
    assert graph.parents_of("f") == ("c", "e")
    assert graph.children_of("b") == ("c", "d")
    assert graph.ancestors(["e"]) == {"a", "b", "d", "e"}
    assert graph.ancestors(["e"], inclusive=False) == {"a", "b", "d"}
    assert graph.descendants(["d"], inclusive=False) == {"e", "f"}
    assert graph.descendants(["c", "d"]) == {"c", "d", "e", "f"}
    assert graph.topo_order() == ["a", "b", "c", "d", "e", "f", "z"]
    assert graph.topo_order({"f", "a", "unknown"}) == ["a", "f"]


def test_topological_order_when_ids_do_not_sort_by_time() -> None:
    graph = Graph({"m": [], "b": ["m"], "a": ["b"], "z": [], "c": ["z", "a"]})
    assert graph.topo_order() == ["m", "b", "a", "z", "c"]  # smallest ready id first
    assert graph.plan_down(set(graph.ids), "base") == ["c", "z", "a", "b", "m"]


def test_a_parent_listed_twice_is_one_edge() -> None:
    graph = Graph({"a": [], "b": ["a", "a"]})
    assert graph.parents_of("b") == ("a",) and graph.children_of("a") == ("b",)
    assert graph.plan_down({"a", "b"}, "base") == ["b", "a"]


def test_empty_graph() -> None:
    graph = Graph({})
    assert graph.heads == () and graph.bases == () and len(graph) == 0
    assert graph.plan_up(set(), "heads") == [] and graph.plan_up(set(), "+3") == []
    assert graph.plan_down(set(), "base") == [] and graph.plan_down(set(), "-1") == []
    with pytest.raises(UsageError, match="there are no migrations"):
        graph.plan_up(set(), "head")


# -- targets -------------------------------------------------------------------------


def test_upgrade_targets_on_a_partly_applied_branchy_graph() -> None:
    graph = Graph(BRANCHY)
    one_branch = {"a", "b", "d"}
    assert graph.plan_up(one_branch, "head") == ["c", "e", "f"]
    assert graph.plan_up(one_branch, "heads") == ["c", "e", "f"]
    assert graph.plan_up(one_branch, "c") == ["c"]
    assert graph.plan_up(one_branch, "d") == []  # already applied: nothing to do
    assert graph.plan_up(one_branch, "base") == []
    assert graph.plan_up(one_branch, "+1") == ["c"]
    assert graph.plan_up(one_branch, "+2") == ["c", "e"]
    assert graph.plan_up(one_branch, "+99") == ["c", "e", "f"]
    assert graph.plan_up(set(), "e+1") == ["a", "b", "d", "e"]  # f also needs c: skipped
    assert graph.plan_up(set(), "b+2") == ["a", "b", "c", "d"]
    assert graph.plan_up(set(), "c+1") == ["a", "b", "c"]
    assert graph.plan_up(set(), "f-1") == ["a", "b", "c"]  # first parent of f is c
    assert graph.plan_up(set(), "e-2") == ["a", "b"]
    assert graph.plan_up(ALL, "head") == []


def test_downgrade_targets_on_a_partly_applied_branchy_graph() -> None:
    graph = Graph(BRANCHY)
    assert graph.plan_down(ALL, "b") == ["f", "e", "d", "c"]
    assert graph.plan_down(ALL, "c") == ["f", "e", "d"]
    assert graph.plan_down(ALL, "base") == ["f", "e", "d", "c", "b", "a"]
    assert graph.plan_down(ALL, "heads") == [] and graph.plan_down(ALL, "head") == []
    assert graph.plan_down(ALL, "f") == []
    assert graph.plan_down(ALL, "f-1") == ["f", "e", "d"]  # the state at c
    assert graph.plan_down({"a", "b", "d", "e"}, "b") == ["e", "d"]
    assert graph.plan_down({"a", "b", "d", "e"}, "-1") == ["e"]


def test_minus_n_follows_the_order_of_application() -> None:
    graph = Graph(BRANCHY)
    applied = {"a", "b", "c", "d"}
    assert graph.plan_down(applied, "-1", applied_order=["a", "b", "d", "c"]) == ["c"]
    assert graph.plan_down(applied, "-1", applied_order=["a", "b", "c", "d"]) == ["d"]
    assert graph.plan_down(applied, "-2", applied_order=["a", "b", "d", "c"]) == ["c", "d"]
    assert graph.plan_down(applied, "-3", applied_order=["a", "b", "d", "c"]) == ["c", "d", "b"]
    assert graph.plan_down(applied, "-1") == ["d"]  # no history: reverse topological order
    # b was applied last (history is odd) but c and d still need it: it waits for them.
    assert graph.plan_down(applied, "-2", applied_order=["a", "c", "d", "b"]) == ["d", "c"]
    assert graph.plan_down(ALL, "-99") == ["f", "e", "d", "c", "b", "a"]


def test_ids_unknown_to_the_graph_are_ignored() -> None:
    graph = Graph(BRANCHY)
    assert graph.plan_up({"a", "gone"}, "b") == ["b"]
    assert graph.plan_down({"a", "b", "gone"}, "base") == ["b", "a"]
    assert graph.plan_down({"a", "b", "gone"}, "-5", applied_order=["gone", "a", "b"]) == [
        "b",
        "a",
    ]


def test_prefixes_and_ids_that_look_relative() -> None:
    graph = Graph(
        {
            "20260101T000000_a": [],
            "20260102T000000_b": ["20260101T000000_a"],
            "20260103T000000_fix-2": ["20260102T000000_b"],
        }
    )
    assert graph.resolve("20260102") == "20260102T000000_b"
    assert graph.ancestors(["20260102"]) == {"20260101T000000_a", "20260102T000000_b"}
    assert graph.plan_up(set(), "20260102") == ["20260101T000000_a", "20260102T000000_b"]
    # An exact id wins over reading "-2" as "two steps back".
    assert graph.plan_up(set(), "20260103T000000_fix-2")[-1] == "20260103T000000_fix-2"
    assert graph.plan_up(set(), "20260102-1") == ["20260101T000000_a"]
    assert graph.plan_up(set(), "20260101+1") == ["20260101T000000_a", "20260102T000000_b"]
    with pytest.raises(UsageError, match="ambiguous migration '2026': matches 20260101T"):
        graph.resolve("2026")
    with pytest.raises(UsageError, match="unknown migration 'x'"):
        graph.resolve("x")


def test_an_ambiguous_prefix_lists_a_few_candidates() -> None:
    graph = Graph({f"m{n:02d}": [] for n in range(40)})
    with pytest.raises(UsageError) as caught:
        graph.resolve("m")
    assert (
        caught.value.message == "ambiguous migration 'm': matches m00, m01, m02, m03, m04, m05, ..."
    )


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda g: g.plan_up(set(), "head"), "there are 2 heads: c, z"),
        (lambda g: g.plan_down({"a", "b", "c", "z"}, "head"), "there are 2 heads: c, z"),
        (lambda g: g.plan_down({"a"}, "b"), "b is not applied; cannot downgrade to it"),
        (lambda g: g.plan_down({"a"}, "c-1"), "b (c-1) is not applied"),
        (lambda g: g.plan_up(set(), "+0"), "invalid target '+0'"),
        (lambda g: g.plan_down({"a"}, "-0"), "invalid target '-0'"),
        (lambda g: g.plan_up(set(), "+x"), "invalid target '+x'"),
        (lambda g: g.plan_down({"a"}, "-1.5"), "invalid target '-1.5'"),
        (lambda g: g.plan_down({"a"}, "-"), "invalid target '-'"),
        (lambda g: g.plan_up(set(), "a-1"), "a-1 goes below the first migration (a)"),
        (lambda g: g.plan_up(set(), "c-0"), "invalid target 'c-0'"),
        (lambda g: g.plan_up(set(), "-1"), "cannot upgrade to '-1'"),
        (lambda g: g.plan_down({"a"}, "+1"), "cannot downgrade to '+1'"),
        (lambda g: g.plan_down({"a"}, "a+1"), "cannot downgrade to 'a+1'"),
        (lambda g: g.plan_up(set(), "nope"), "unknown migration 'nope'"),
        (lambda g: g.plan_up(set(), "nope+1"), "unknown migration 'nope'"),
        (lambda g: g.plan_down({"a"}, ""), "unknown migration ''"),
        (lambda g: g.ancestors(["nope"]), "unknown migration 'nope'"),
    ],
)
def test_bad_targets(call: Callable[[Graph], object], fragment: str) -> None:
    graph = Graph({"a": [], "b": ["a"], "c": ["b"], "z": []})
    with pytest.raises(UsageError) as caught:
        call(graph)
    assert fragment in caught.value.message
    assert caught.value.exit_code == 2
    _one_line(caught.value)


def test_several_heads_hint_says_how_to_choose() -> None:
    with pytest.raises(UsageError) as caught:
        Graph({"a": [], "b": ["a"], "c": ["a"]}).plan_up(set(), "head")
    assert caught.value.hint is not None and "use `heads` or name one" in caught.value.hint


def test_missing_parent_names_the_file_and_the_id() -> None:
    with pytest.raises(GraphError) as caught:
        Graph({"a": [], "b": ["x"]}, files={"b": "versions/b.py"})
    assert caught.value.message == "versions/b.py: parent x does not exist"
    assert caught.value.exit_code == 4
    _one_line(caught.value)


def test_a_cycle_names_its_files_and_only_them() -> None:
    files = {n: f"{n}.py" for n in "abcd"}
    # c depends on the cycle but is not part of it; d is fine.
    with pytest.raises(GraphError) as caught:
        Graph({"a": ["b"], "b": ["a"], "c": ["a"], "d": []}, files=files)
    assert caught.value.message == "migration cycle: a.py -> b.py -> a.py"
    assert caught.value.exit_code == 4
    _one_line(caught.value)
    with pytest.raises(GraphError, match=r"^migration cycle: a.py -> b.py -> c.py -> a.py$"):
        Graph({"d": [], "a": ["d", "b"], "b": ["c"], "c": ["a"]}, files=files)
    # a only depends on the cycle: the walk starts there but reports the loop alone.
    with pytest.raises(GraphError, match=r"^migration cycle: b.py -> c.py -> b.py$"):
        Graph({"a": ["b"], "b": ["c"], "c": ["b"]}, files=files)
    with pytest.raises(GraphError, match=r"^migration cycle: a.py -> a.py$"):
        Graph({"a": ["a"]}, files=files)


# -- size ----------------------------------------------------------------------------


def test_long_chain_without_recursion() -> None:
    ids = [f"{n:06d}" for n in range(20_000)]
    graph = Graph({node: [ids[i - 1]] if i else [] for i, node in enumerate(ids)})
    assert graph.plan_up(set(), "head") == ids
    assert graph.plan_down(set(ids), "base") == ids[::-1]
    assert graph.plan_down(set(ids), "-20000") == ids[::-1]
    assert graph.plan_up(set(), f"{ids[-1]}-19999") == ids[:1]
    assert len(graph.ancestors([ids[-1]])) == 20_000
    assert len(graph.descendants([ids[0]])) == 20_000


def test_a_large_branchy_graph_is_fast() -> None:
    rng = random.Random(7)
    # Reversed names: ids do not sort by time, so the heap path is the one measured.
    ids = [f"{n:05d}"[::-1] for n in range(6_000)]
    parents = {
        node: rng.sample(ids[max(0, i - 30) : i], min(i, rng.randint(1, 2)))
        for i, node in enumerate(ids)
    }
    started = time.perf_counter()
    graph = Graph(parents)
    half = graph.ancestors(ids[2_000:2_010])
    assert len(graph.plan_up(half, "heads")) == len(ids) - len(half)
    assert len(graph.plan_down(set(ids), "-6000")) == len(ids)
    assert len(graph.plan_down(set(ids), "base")) == len(ids)
    assert time.perf_counter() - started < 1.0  # a few ms in practice; generous for CI


# -- properties ----------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Ids in creation order; each node picks its parents among earlier ones."""
    size = draw(st.integers(1, 25))
    ids = [f"m{n:03d}" for n in range(size)]
    if draw(st.booleans()):  # ids that do not sort by creation time
        ids = [f"m{n:03d}"[::-1] for n in range(size)]
    graph: dict[str, list[str]] = {}
    for index, node in enumerate(ids):
        earlier = ids[:index]
        parents = (
            draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []
        )
        graph[node] = parents
    return graph


@st.composite
def applied_states(draw: st.DrawFn) -> tuple[dict[str, list[str]], set[str]]:
    """A DAG and a downward-closed set of applied migrations."""
    graph = draw(dags())
    chosen = draw(st.sets(st.sampled_from(sorted(graph))))
    return graph, Graph(graph).ancestors(chosen)


def _closed(graph: Graph, nodes: set[str]) -> bool:
    return all(set(graph.parents_of(n)) <= nodes for n in nodes)


def _reverts_leaves_only(graph: Graph, applied: set[str], plan: list[str]) -> set[str]:
    """Replay a downgrade plan, checking nothing still applied needs each step."""
    remaining = set(applied)
    for node in plan:
        assert node in remaining
        assert not any(c in remaining for c in graph.children_of(node))
        remaining.discard(node)
    return remaining


@given(dags())
def test_topological_order_puts_parents_first(parents: dict[str, list[str]]) -> None:
    graph = Graph(parents)
    order = graph.topo_order()
    position = {n: i for i, n in enumerate(order)}
    assert sorted(order) == sorted(parents)
    assert all(position[p] < position[n] for n in parents for p in parents[n])
    assert graph.plan_up(set(), "heads") == order
    assert graph.plan_down(set(parents), "base") == order[::-1]


@settings(max_examples=200)
@given(applied_states(), st.data())
def test_up_then_down_returns_to_the_start(
    state: tuple[dict[str, list[str]], set[str]], data: st.DataObject
) -> None:
    parents, applied = state
    graph = Graph(parents)
    target = data.draw(st.sampled_from([*sorted(parents), "heads", "+1", "+3"]))
    up = graph.plan_up(applied, target)
    after = applied | set(up)
    assert _closed(graph, after)  # never applies a migration before its parents
    assert not (set(up) & applied) and len(up) == len(set(up))
    assert up == graph.topo_order(up)
    if target in parents:
        assert after == applied | graph.ancestors([target])
    if target.startswith("+"):
        pending = len(parents) - len(applied)
        assert len(up) == min(int(target[1:]), pending)
    # The history lists what was applied first; -N then takes back exactly `up`.
    history = [*graph.topo_order(applied), *up]
    if up:
        down = graph.plan_down(after, f"-{len(up)}", applied_order=history)
        assert down == up[::-1]
        assert _reverts_leaves_only(graph, after, down) == applied


@settings(max_examples=200)
@given(applied_states(), st.data())
def test_down_keeps_the_applied_set_closed(
    state: tuple[dict[str, list[str]], set[str]], data: st.DataObject
) -> None:
    parents, applied = state
    graph = Graph(parents)
    if not applied:
        assert graph.plan_down(applied, "base") == []
        return
    target = data.draw(st.sampled_from(sorted(applied)))
    down = graph.plan_down(applied, target)
    remaining = _reverts_leaves_only(graph, applied, down)
    assert remaining == applied & graph.ancestors([target])
    assert _closed(graph, remaining)
    # Upgrading back to everything that was applied restores it.
    assert set(graph.plan_up(remaining, "heads")) >= applied - remaining

    steps = data.draw(st.integers(1, len(applied) + 2))
    history = data.draw(st.permutations(graph.topo_order(applied)))
    last = graph.plan_down(applied, f"-{steps}", applied_order=history)
    assert len(last) == min(steps, len(applied))
    _reverts_leaves_only(graph, applied, last)
    assert _closed(graph, applied - set(last))

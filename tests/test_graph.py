"""The revision graph: targets, plans and errors, by example and by property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.errors import GraphError, UsageError
from dbshift.migrations.graph import Graph

#   a - b - c ----- f
#        \         /
#         d - e --
BRANCHY = {"a": [], "b": ["a"], "c": ["b"], "d": ["b"], "e": ["d"], "f": ["c", "e"]}


def test_heads_bases_and_walks() -> None:
    graph = Graph({**BRANCHY, "z": []})
    assert graph.heads == ("f", "z")
    assert graph.bases == ("a", "z")
    assert graph.ancestors(["e"]) == {"a", "b", "d", "e"}
    assert graph.descendants(["d"], inclusive=False) == {"e", "f"}
    assert graph.children_of("b") == ("c", "d")
    assert graph.topo_order() == ["a", "b", "c", "d", "e", "f", "z"]


def test_plans_on_a_partly_applied_branchy_graph() -> None:
    graph = Graph(BRANCHY)
    assert graph.plan_up({"a", "b", "d"}, "head") == ["c", "e", "f"]
    assert graph.plan_up({"a", "b", "d"}, "c") == ["c"]
    assert graph.plan_up({"a", "b", "d"}, "+1") == ["c"]
    assert graph.plan_up(set(), "e+1") == ["a", "b", "d", "e"]  # f also needs c
    assert graph.plan_up(set(), "b+2") == ["a", "b", "c", "d"]
    assert graph.plan_up(set(BRANCHY), "head") == []
    assert graph.plan_down(set(BRANCHY), "b") == ["f", "e", "d", "c"]
    assert graph.plan_down(set(BRANCHY), "base") == ["f", "e", "d", "c", "b", "a"]
    assert graph.plan_down({"a", "b", "c", "d"}, "-1", applied_order=["a", "b", "d", "c"]) == ["c"]
    assert graph.plan_down({"a", "b", "c", "d"}, "-2", applied_order=["a", "b", "d", "c"]) == [
        "c",
        "d",
    ]
    assert graph.plan_down(set(BRANCHY), "f-1") == ["f", "e", "d"]  # the state at c
    assert graph.plan_down(set(BRANCHY), "-99") == ["f", "e", "d", "c", "b", "a"]


def test_prefixes() -> None:
    graph = Graph({"20260101T000000_a": [], "20260102T000000_b": ["20260101T000000_a"]})
    assert graph.resolve("20260102") == "20260102T000000_b"
    with pytest.raises(UsageError, match="ambiguous migration '2026'"):
        graph.resolve("2026")
    with pytest.raises(UsageError, match="unknown migration 'x'"):
        graph.resolve("x")


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda g: g.plan_up(set(), "head"), "there are 2 heads: c, z"),
        (lambda g: g.plan_down(set(), "b"), "b is not applied"),
        (lambda g: g.plan_up(set(), "+0"), "invalid target '+0'"),
        (lambda g: g.plan_up(set(), "a-1"), "goes below the first migration"),
    ],
)
def test_bad_targets(call: object, fragment: str) -> None:
    graph = Graph({"a": [], "b": ["a"], "c": ["b"], "z": []})
    with pytest.raises(UsageError) as caught:
        call(graph)  # type: ignore[operator]
    assert fragment in caught.value.message and caught.value.exit_code == 2
    assert caught.value.hint


def test_missing_parent_and_cycle_name_the_files() -> None:
    with pytest.raises(GraphError, match=r"b.py: parent x does not exist") as caught:
        Graph({"a": [], "b": ["x"]}, files={"b": "b.py"})
    assert caught.value.exit_code == 4
    with pytest.raises(GraphError, match=r"cycle in the migration graph through a.py, b.py"):
        Graph({"a": ["b"], "b": ["a"], "c": []}, files={"a": "a.py", "b": "b.py"})


def test_long_chain_without_recursion() -> None:
    ids = [f"{n:06d}" for n in range(20_000)]
    graph = Graph({node: [ids[i - 1]] if i else [] for i, node in enumerate(ids)})
    assert graph.plan_up(set(), "head") == ids
    assert graph.plan_down(set(ids), "base") == ids[::-1]
    assert len(graph.ancestors([ids[-1]])) == 20_000


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    size = draw(st.integers(1, 25))
    ids = [f"m{n:03d}" for n in range(size)]
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


@given(dags())
def test_topological_order_puts_parents_first(parents: dict[str, list[str]]) -> None:
    graph = Graph(parents)
    order = graph.topo_order()
    position = {n: i for i, n in enumerate(order)}
    assert sorted(order) == sorted(parents)
    assert all(position[p] < position[n] for n in parents for p in parents[n])
    assert graph.plan_up(set(), "heads") == order


@settings(max_examples=200)
@given(applied_states(), st.data())
def test_up_then_down_returns_to_the_start(
    state: tuple[dict[str, list[str]], set[str]], data: st.DataObject
) -> None:
    parents, applied = state
    graph = Graph(parents)
    target = data.draw(st.sampled_from(sorted(parents)))
    up = graph.plan_up(applied, target)
    after = applied | set(up)
    assert _closed(graph, after)  # never applies a migration before its parents
    assert target in after and not (set(up) & applied)
    assert len(up) == len(set(up))
    # Reverting what was applied, children first, returns to the start.
    remaining = set(after)
    for node in sorted(up, key=graph.topo_order().index, reverse=True):
        assert not any(c in remaining for c in graph.children_of(node))
        remaining.discard(node)
    assert remaining == applied


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
    remaining = set(applied)
    for node in down:  # each step reverts a migration nothing applied depends on
        assert not any(c in remaining for c in graph.children_of(node))
        remaining.discard(node)
    assert remaining == applied & graph.ancestors([target])
    assert _closed(graph, remaining)
    steps = data.draw(st.integers(1, len(applied) + 2))
    last = graph.plan_down(applied, f"-{steps}")
    assert len(last) == min(steps, len(applied)) and _closed(graph, applied - set(last))

"""The revision graph: a DAG with several roots, branches and merges.

Plans are sets: upgrading to T wants `applied | ancestors(T)`, downgrading to T wants
`applied & ancestors(T)`. The plan is the difference, in topological order (parents
first for upgrades, children first for downgrades), ties broken by id so that plans
are deterministic. Every walk is iterative (a 10,000-deep chain must not hit the
recursion limit) and linear, or n log n where a heap or a sort is needed.

Targets, as a user types them:

==========  ===========================================================================
``ID``      an id or a unique prefix of one
``head``    the single head (several heads are an error: the user must choose)
``heads``   every head
``base``    nothing applied
``+N``      up: the next N pending migrations, in plan order towards all heads
``-N``      down: the N most recently applied migrations nothing applied depends on
``ID+N``    up: ID and its ancestors, then N more of ID's descendants whose parents
            are all there (a descendant that also needs another branch is skipped)
``ID-N``    the N-th ancestor of ID along the first-parent chain (``ID-1``: the
            state just before ID on its main line), up or down
==========  ===========================================================================
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Literal

from dbshift.errors import GraphError, UsageError

#: which way a plan or a replay walks: `up` applies (parents first), `down` reverts
#: (children first)
Direction = Literal["up", "down"]

_RELATIVE = re.compile(r"^(?P<base>.*?)(?P<sign>[+-])(?P<count>\d+)$")
_SHOWN = 5  # candidates listed in an "ambiguous" error; more would not fit one line


class Graph:
    """Migration ids and their parents, validated once, with plans towards any target.

    Built from headers alone (no migration code is imported), so listing, status and
    planning stay cheap; `files` only makes errors name what the user edits.
    """

    def __init__(
        self, parents: Mapping[str, Sequence[str]], files: Mapping[str, str] | None = None
    ) -> None:
        self._files = dict(files) if files else {}
        # dict.fromkeys: a parent listed twice is one edge, in its first position.
        self._parents = {node: tuple(dict.fromkeys(ps)) for node, ps in parents.items()}
        self._sorted = sorted(self._parents)
        children: dict[str, list[str]] = {node: [] for node in self._sorted}
        for node in self._sorted:  # sorted: children come out sorted, errors deterministic
            for parent in self._parents[node]:
                siblings = children.get(parent)
                if siblings is None:
                    raise GraphError(
                        f"{self._name(node)}: parent {parent} does not exist",
                        hint="restore the missing migration or fix the `parents` header",
                    )
                siblings.append(node)
        self._children = {node: tuple(cs) for node, cs in children.items()}
        self._order = self._topological()
        self._position = {node: index for index, node in enumerate(self._order)}
        self._heads = tuple(n for n in self._sorted if not self._children[n])
        self._bases = tuple(n for n in self._sorted if not self._parents[n])

    # -- shape -----------------------------------------------------------------------

    def __contains__(self, node: object) -> bool:
        return node in self._parents

    def __len__(self) -> int:
        return len(self._parents)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._parents)

    @property
    def heads(self) -> tuple[str, ...]:
        """Migrations nothing depends on, sorted: where new work and upgrades end."""
        return self._heads

    @property
    def bases(self) -> tuple[str, ...]:
        """Migrations without parents, sorted (several roots are allowed)."""
        return self._bases

    def parents_of(self, node: str) -> tuple[str, ...]:
        return self._parents[node]

    def children_of(self, node: str) -> tuple[str, ...]:
        return self._children[node]

    def ancestors(self, nodes: Iterable[str], inclusive: bool = True) -> set[str]:
        """Everything `nodes` depend on (ids or unique prefixes), and `nodes` if inclusive."""
        return self._walk(nodes, self._parents, inclusive)

    def descendants(self, nodes: Iterable[str], inclusive: bool = True) -> set[str]:
        """Everything that depends on `nodes`, and `nodes` if inclusive."""
        return self._walk(nodes, self._children, inclusive)

    def topo_order(self, subset: Iterable[str] | None = None) -> list[str]:
        """Parents before children, ties by id; a subset keeps the whole graph's order.

        Restricting one global order (rather than sorting each subset anew) makes every
        plan agree with `status` and `history`; ids unknown to the graph are dropped.
        """
        if subset is None:
            return list(self._order)
        return sorted(set(subset) & self._parents.keys(), key=self._position.__getitem__)

    # -- targets and plans -----------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """An id from an id or a unique prefix of one (binary search over sorted ids)."""
        if ref in self._parents:
            return ref
        matches: list[str] = []
        if ref:
            index = bisect_left(self._sorted, ref)
            while index < len(self._sorted) and self._sorted[index].startswith(ref):
                if len(matches) > _SHOWN:
                    matches.append("...")
                    break
                matches.append(self._sorted[index])
                index += 1
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise UsageError(
                f"ambiguous migration {ref!r}: matches {', '.join(matches)}",
                hint="give more characters of the id",
            )
        raise UsageError(
            f"unknown migration {ref!r}",
            hint="see `dbshift history` for the ids, or use head, heads, base, +N, -N",
        )

    def plan_up(self, applied: Collection[str], target: str) -> list[str]:
        """Ids to apply, parents first, so that `target` and its ancestors are applied.

        A target that is already applied gives an empty plan, not an error: upgrading
        is idempotent so that deploy scripts can run it unconditionally.
        """
        done = set(applied) & self._parents.keys()
        if target == "base":
            return []
        if target == "heads":
            wanted = set(self._parents)
        elif target == "head":
            wanted = self.ancestors([self._single_head()])
        elif (relative := self._relative(target)) is not None:
            base, sign, count = relative
            if sign == "+":
                return self._next_pending(done, base, count)
            if not base:
                raise UsageError(
                    f"cannot upgrade to {target!r}: -N reverts migrations",
                    hint=f"use `dbshift downgrade {target}`",
                )
            wanted = self.ancestors([self._step_back(base, count, target)])
        else:
            wanted = self.ancestors([self.resolve(target)])
        return self.topo_order(wanted - done)

    def plan_down(
        self, applied: Collection[str], target: str, applied_order: Sequence[str] | None = None
    ) -> list[str]:
        """Ids to revert, children first, so that only `applied & ancestors(target)` stay.

        `applied_order` (oldest first, from the history table) decides which migrations
        `-N` takes: the latest applied that nothing still applied depends on. Without it
        the reverse topological order stands in for time.
        """
        done = set(applied) & self._parents.keys()
        if target == "base":
            keep: set[str] = set()
        elif target == "heads":
            keep = done
        elif target == "head":
            keep = done & self.ancestors([self._single_head()])
        else:
            relative = self._relative(target)
            if relative is None:
                node = self.resolve(target)
            else:
                base, sign, count = relative
                if sign == "+":
                    raise UsageError(
                        f"cannot downgrade to {target!r}: +N applies migrations",
                        hint=f"use `dbshift upgrade {target}`",
                    )
                if not base:
                    return self._latest_leaves(done, count, applied_order)
                node = self._step_back(base, count, target)
            if node not in done:
                shown = node if node == target else f"{node} ({target})"
                raise UsageError(
                    f"{shown} is not applied; cannot downgrade to it",
                    hint="see `dbshift status` for what is applied, or use base or -N",
                )
            keep = done & self.ancestors([node])
        return self.topo_order(done - keep)[::-1]

    # -- internals -------------------------------------------------------------------

    def _relative(self, target: str) -> tuple[str, str, int] | None:
        """`(base, sign, N)` for +N, -N, ID+N and ID-N; None for an id or a prefix.

        An existing id wins over the relative reading, so an id ending in `-2` works.
        """
        if target in self._parents:
            return None
        match = _RELATIVE.match(target)
        if match is None:
            if target.startswith(("+", "-")):
                raise UsageError(
                    f"invalid target {target!r}: N in +N/-N must be a positive integer",
                    hint="for example +1 or -2",
                )
            return None
        count = int(match["count"])
        if count < 1:
            raise UsageError(
                f"invalid target {target!r}: N in +N/-N must be a positive integer",
                hint="for example +1 or -2",
            )
        return match["base"], match["sign"], count

    def _single_head(self) -> str:
        if len(self._heads) == 1:
            return self._heads[0]
        if not self._heads:
            raise UsageError("there are no migrations", hint="create one with `dbshift new`")
        raise UsageError(
            f"there are {len(self._heads)} heads: {', '.join(self._heads)}",
            hint="use `heads` or name one, or join them with `dbshift merge`",
        )

    def _step_back(self, ref: str, count: int, target: str) -> str:
        """The `count`-th ancestor of `ref` along the first-parent chain."""
        node = self.resolve(ref)
        for _ in range(count):
            parents = self._parents[node]
            if not parents:
                raise UsageError(
                    f"{target} goes below the first migration ({node})", hint="use base"
                )
            node = parents[0]
        return node

    def _next_pending(self, done: set[str], base: str, count: int) -> list[str]:
        """`+N` and `ID+N`: what must be there, then up to `count` more, parents first."""
        if base:
            node = self.resolve(base)
            have = done | self.ancestors([node])
            pending = self.descendants([node], inclusive=False) - have
        else:
            have = set(done)
            pending = self._parents.keys() - have
        taken = 0
        for node in self.topo_order(pending):
            if taken == count:
                break
            # Parents come first in topo order, so only a parent outside `pending`
            # (another branch, for ID+N; a gap in `applied`) can be missing here.
            if all(p in have for p in self._parents[node]):
                have.add(node)
                taken += 1
        return self.topo_order(have - done)

    def _latest_leaves(
        self, done: set[str], count: int, applied_order: Sequence[str] | None
    ) -> list[str]:
        """`-N`: repeatedly revert the latest applied migration nothing applied needs.

        A max-heap on the time of application keeps this n log n for any N.
        """
        rank: dict[str, int] = {}
        for node in self.topo_order(done):  # applied ids the history misses count as oldest
            rank[node] = len(rank) - len(done)
        for index, node in enumerate(applied_order or ()):
            if node in done:
                rank[node] = index
        blockers = {n: sum(c in done for c in self._children[n]) for n in done}
        ready = [(-rank[n], n) for n, b in blockers.items() if not b]
        heapq.heapify(ready)
        plan: list[str] = []
        while ready and len(plan) < count:
            _, node = heapq.heappop(ready)
            plan.append(node)
            for parent in self._parents[node]:
                if parent in blockers:
                    blockers[parent] -= 1
                    if not blockers[parent]:
                        heapq.heappush(ready, (-rank[parent], parent))
        return plan

    def _walk(
        self, nodes: Iterable[str], edges: Mapping[str, tuple[str, ...]], inclusive: bool
    ) -> set[str]:
        start = [n if n in edges else self.resolve(n) for n in nodes]
        seen: set[str] = set(start) if inclusive else set()
        stack = [e for n in start for e in edges[n]]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
        return seen

    def _topological(self) -> list[str]:
        """Kahn's algorithm with a heap: the smallest ready id first."""
        parents = self._parents
        if all(p < node for node in self._sorted for p in parents[node]):
            # Ids are creation times, so parents almost always sort first; then the
            # sorted ids are exactly the order the heap below would produce.
            return list(self._sorted)
        waiting = {node: len(ps) for node, ps in parents.items()}
        ready = [node for node in self._sorted if not waiting[node]]  # sorted: a valid heap
        order: list[str] = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self._children[node]:
                waiting[child] -= 1
                if not waiting[child]:
                    heapq.heappush(ready, child)
        if len(order) != len(parents):
            raise GraphError(
                f"migration cycle: {' -> '.join(self._cycle(waiting))}",
                hint="each file lists the next as a parent; remove one of these parents",
            )
        return order

    def _cycle(self, waiting: Mapping[str, int]) -> list[str]:
        """File names along one cycle, from what Kahn's algorithm could not order.

        Every unordered node has an unordered parent, so following those from any of
        them must come back to a node already seen: that loop is a cycle.
        """
        node = min(n for n, count in waiting.items() if count)
        path: list[str] = []
        index: dict[str, int] = {}
        while node not in index:
            index[node] = len(path)
            path.append(node)
            node = next(p for p in self._parents[node] if waiting[p])
        loop = [*path[index[node] :], node]
        return [self._name(n) for n in loop]

    def _name(self, node: str) -> str:
        return self._files.get(node, node)

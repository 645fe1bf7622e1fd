"""The revision graph: a DAG with several roots, branches and merges.

Plans are sets: upgrading to T wants `applied | ancestors(T)`, downgrading to T wants
`applied & ancestors(T)`. The plan is the difference, in topological order (parents
first for upgrades, children first for downgrades), ties broken by id so that plans
are deterministic. Every walk is iterative and linear (or n log n with the heap).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from dbshift.errors import GraphError, UsageError

_RELATIVE = re.compile(r"^(?P<base>.*?)(?P<sign>[+-])(?P<count>\d+)$")


class Graph:
    def __init__(
        self, parents: Mapping[str, Sequence[str]], files: Mapping[str, str] | None = None
    ) -> None:
        self._files = dict(files or {})
        self._parents = {node: tuple(ps) for node, ps in parents.items()}
        children: dict[str, list[str]] = {node: [] for node in self._parents}
        for node, ps in self._parents.items():
            for parent in ps:
                if parent not in children:
                    raise GraphError(
                        f"{self._name(node)}: parent {parent} does not exist",
                        hint="restore the missing migration or fix the `parents` header",
                    )
                children[parent].append(node)
        self._children = {node: tuple(sorted(cs)) for node, cs in children.items()}
        self._order = self._topological(self._parents)
        self._position = {node: index for index, node in enumerate(self._order)}

    # -- shape -----------------------------------------------------------------------

    def __contains__(self, node: object) -> bool:
        return node in self._parents

    def __len__(self) -> int:
        return len(self._parents)

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(sorted(n for n, cs in self._children.items() if not cs))

    @property
    def bases(self) -> tuple[str, ...]:
        return tuple(sorted(n for n, ps in self._parents.items() if not ps))

    def parents_of(self, node: str) -> tuple[str, ...]:
        return self._parents[node]

    def children_of(self, node: str) -> tuple[str, ...]:
        return self._children[node]

    def ancestors(self, nodes: Iterable[str], inclusive: bool = True) -> set[str]:
        return self._walk(nodes, self._parents, inclusive)

    def descendants(self, nodes: Iterable[str], inclusive: bool = True) -> set[str]:
        return self._walk(nodes, self._children, inclusive)

    def topo_order(self, subset: Iterable[str] | None = None) -> list[str]:
        """Parents before children, ties by id; the order of the whole graph restricted."""
        if subset is None:
            return list(self._order)
        return sorted(set(subset) & self._parents.keys(), key=self._position.__getitem__)

    # -- targets and plans -----------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """An id from an id or a unique prefix of one."""
        if ref in self._parents:
            return ref
        matches = [node for node in self._parents if node.startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(sorted(matches)[:5]) + (", ..." if len(matches) > 5 else "")
            raise UsageError(
                f"ambiguous migration {ref!r}: matches {shown}",
                hint="give more characters of the id",
            )
        raise UsageError(
            f"unknown migration {ref!r}",
            hint="see `dbshift history` for the ids, or use head, heads, base, +N, -N",
        )

    def plan_up(self, applied: Collection[str], target: str) -> list[str]:
        """Ids to apply, parents first, to reach `target` from `applied`."""
        done = set(applied) & self._parents.keys()
        relative = _RELATIVE.match(target)
        if target == "base":
            wanted: set[str] = set()
        elif target == "heads":
            wanted = set(self._parents)
        elif target == "head":
            wanted = self.ancestors([self._single_head()])
        elif relative and relative.group("sign") == "+":
            count = _count(relative.group("count"), target)
            base = relative.group("base")
            have = done | (self.ancestors([self.resolve(base)]) if base else set())
            pending = self.descendants([self.resolve(base)]) if base else set(self._parents)
            taken = 0
            for node in self.topo_order(pending - have):
                if taken == count:
                    break
                if all(p in have for p in self._parents[node]):
                    have.add(node)
                    taken += 1
            return self.topo_order(have - done)
        elif relative and relative.group("base"):
            wanted = self.ancestors(
                [self._step_back(relative.group("base"), relative.group("count"))]
            )
        elif relative:
            raise UsageError(f"cannot upgrade to {target!r}", hint="use downgrade for -N")
        else:
            wanted = self.ancestors([self.resolve(target)])
        return self.topo_order(wanted - done)

    def plan_down(
        self, applied: Collection[str], target: str, applied_order: Sequence[str] | None = None
    ) -> list[str]:
        """Ids to revert, children first, to go down to `target` from `applied`."""
        done = set(applied) & self._parents.keys()
        relative = _RELATIVE.match(target)
        if target == "base":
            keep: set[str] = set()
        elif target in ("head", "heads"):
            keep = done if target == "heads" else done & self.ancestors([self._single_head()])
        elif relative and not relative.group("base") and relative.group("sign") == "-":
            return self._last_applied(done, _count(relative.group("count"), target), applied_order)
        elif relative and relative.group("sign") == "-":
            keep = done & self.ancestors(
                [self._step_back(relative.group("base"), relative.group("count"))]
            )
        elif relative:
            raise UsageError(f"cannot downgrade to {target!r}", hint="use upgrade for +N")
        else:
            node = self.resolve(target)
            if node not in done:
                raise UsageError(
                    f"{node} is not applied; cannot downgrade to it",
                    hint="see `dbshift status` for what is applied",
                )
            keep = done & self.ancestors([node])
        return self.topo_order(done - keep)[::-1]

    # -- internals -------------------------------------------------------------------

    def _single_head(self) -> str:
        heads = self.heads
        if len(heads) != 1:
            if not heads:
                raise UsageError("there are no migrations", hint="create one with `dbshift new`")
            raise UsageError(
                f"there are {len(heads)} heads: {', '.join(heads)}",
                hint="use `heads`, name one, or join them with `dbshift merge`",
            )
        return heads[0]

    def _step_back(self, ref: str, count_text: str) -> str:
        """The N-th ancestor of `ref` along the first-parent chain."""
        node = self.resolve(ref)
        for _ in range(_count(count_text, f"{ref}-{count_text}")):
            parents = self._parents[node]
            if not parents:
                raise UsageError(
                    f"{ref}-{count_text} goes below the first migration", hint="use base"
                )
            node = parents[0]
        return node

    def _last_applied(
        self, done: set[str], count: int, applied_order: Sequence[str] | None
    ) -> list[str]:
        """The `count` most recently applied migrations nothing applied depends on."""
        order = [n for n in (applied_order or self.topo_order(done)) if n in done]
        remaining, plan = set(done), []
        for _ in range(count):
            leaf = next(
                (
                    n
                    for n in reversed(order)
                    if n in remaining and not any(c in remaining for c in self._children[n])
                ),
                None,
            )
            if leaf is None:
                break
            remaining.discard(leaf)
            plan.append(leaf)
        return plan

    def _walk(
        self, nodes: Iterable[str], edges: Mapping[str, tuple[str, ...]], inclusive: bool
    ) -> set[str]:
        start = [self.resolve(n) if n not in edges else n for n in nodes]
        seen: set[str] = set(start) if inclusive else set()
        stack = [e for n in start for e in edges[n]]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
        return seen

    def _topological(self, parents: Mapping[str, tuple[str, ...]]) -> list[str]:
        ordered = sorted(parents)
        if all(p < node for node in ordered for p in parents[node]):
            # Ids are creation times, so parents almost always sort first; then the
            # sorted ids are exactly the order the heap below would produce.
            return ordered
        waiting = {node: len(ps) for node, ps in parents.items()}
        ready = [node for node, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self._children[node]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) != len(parents):
            cycle = sorted(self._name(n) for n, count in waiting.items() if count > 0)
            raise GraphError(
                f"cycle in the migration graph through {', '.join(cycle[:5])}",
                hint="fix the `parents` headers so that no migration depends on itself",
            )
        return order

    def _name(self, node: str) -> str:
        return self._files.get(node, node)


def _count(text: str, target: str) -> int:
    count = int(text)
    if count <= 0:
        raise UsageError(f"invalid target {target!r}", hint="N in +N/-N must be at least 1")
    return count

"""Grouping the faces of a community into contiguous grids of about N households each.

The faces (blocks between roads, alleys, rivers and the community line; see boundaries.faces) are the
nodes of a planar graph, weighted by households, with edges weighted by the length of boundary two
faces share.  Districting is an NP-hard problem and no library on PyPI does *balanced, contiguous,
compact* partitioning of a small planar graph (METIS balances vertex weights but neither guarantees
connected parts nor cares for shape; gerrychain samples, it does not optimise), so it is done here in
two steps that are each easy to reason about:

1. **Recursive bisection.**  A connected set of faces that must become k grids is cut in two sets that
   become ⌊k/2⌋ and ⌈k/2⌉ grids.  Candidate halves are grown from one end of the set along one of eight
   directions (the frontier face furthest that way first), so each half is connected by construction;
   of all prefixes of all sixteen sweeps the one whose households come closest to the share wins, with
   the length of the cut (boundary between the halves, relative to the size of the set) as a small
   penalty, which keeps grids compact and their edges short.  A half whose rest falls apart is repaired
   by taking the smaller pieces of the rest into it.
2. **Refinement.**  A face on the edge between two grids moves to its neighbour when that brings both
   closer to the goal (and, for faces without households, when it shortens the edge), never when the
   grid it leaves would fall apart; passes repeat until nothing improves.

Everything is ordered by face index and plain arithmetic, never by hash order or randomness: the same
faces give the same grids (the proposal is deterministic).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

# Relative balance error (in units of one grid's goal) traded for one "community size" of cut length.
CUT_PENALTY = 0.03
# Grids within this share of the target count as on target in the refinement's objective.
ON_TARGET = 0.2
DIRECTIONS = 8
MAX_PASSES = 40


@dataclass
class FaceGraph:
    """Faces as nodes: households, area (m²), centroid (metres), shared boundary lengths (m)."""

    weight: list[float]
    area: list[float]
    xy: list[tuple[float, float]]
    adj: list[dict[int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.adj:
            self.adj = [{} for _ in self.weight]

    def connect(self, a: int, b: int, length: float) -> None:
        if a != b and length > 0:
            self.adj[a][b] = self.adj[a].get(b, 0.0) + length
            self.adj[b][a] = self.adj[b].get(a, 0.0) + length

    def components(self, nodes: Iterable[int]) -> list[list[int]]:
        """Connected pieces of `nodes` (through edges inside `nodes`), each sorted, in order of their
        smallest face."""
        todo = set(nodes)
        out = []
        for start in sorted(todo):
            if start not in todo:
                continue
            todo.discard(start)
            piece, stack = [start], [start]
            while stack:
                n = stack.pop()
                for m in self.adj[n]:
                    if m in todo:
                        todo.discard(m)
                        piece.append(m)
                        stack.append(m)
            out.append(sorted(piece))
        return out


def grid_count(households: float, target: float) -> int:
    """How many grids: one under the target; otherwise the count whose mean is nearest the target."""
    if target <= 0 or households < target:
        return 1
    low = max(1, math.floor(households / target))
    high = low + 1
    return low if abs(households / low - target) <= abs(households / high - target) else high


def partition(graph: FaceGraph, target: float) -> list[list[int]]:
    """Groups of face indices: every face in exactly one group, each group connected."""
    groups: list[list[int]] = []
    for comp in graph.components(range(len(graph.weight))):
        k = min(grid_count(sum(graph.weight[n] for n in comp), target), len(comp))
        parts = _bisect(graph, comp, k)
        groups.extend(_refine(graph, parts, target))
    return [sorted(g) for g in groups]


# ------------------------------------------------------------------------------------------ bisection
def _bisect(graph: FaceGraph, nodes: list[int], k: int) -> list[list[int]]:
    if k <= 1 or len(nodes) <= 1:
        return [nodes]
    k1 = k // 2
    first = _best_half(graph, nodes, k1 / k, sum(graph.weight[n] for n in nodes) / k)
    second = sorted(set(nodes) - set(first))
    if not first or not second:
        return [nodes]
    return _bisect(graph, first, k1) + _bisect(graph, second, k - k1)


def _best_half(graph: FaceGraph, nodes: list[int], share: float, unit: float) -> list[int]:
    """The connected subset, grown along a direction, whose households are nearest `share` of the set's,
    with a short cut; its complement is connected too."""
    inside = set(nodes)
    total = sum(graph.weight[n] for n in nodes)
    want = total * share
    unit = unit or 1.0
    size = math.sqrt(max(sum(graph.area[n] for n in nodes), 1.0))
    best: tuple[float, list[int]] | None = None
    for d in range(DIRECTIONS):
        angle = math.pi * d / DIRECTIONS
        ux, uy = math.cos(angle), math.sin(angle)
        for sign in (1.0, -1.0):
            key = {n: sign * (graph.xy[n][0] * ux + graph.xy[n][1] * uy) for n in nodes}
            for score, members in _sweep(graph, nodes, inside, key, want, unit, size):
                if best is None or score < best[0] - 1e-12:
                    fixed = _repair(graph, members, inside)
                    if fixed is not members:  # the rest fell apart: score the repaired half instead
                        score = _score(graph, fixed, inside, want, unit, size)
                        if best is not None and score >= best[0] - 1e-12:
                            continue
                    if 0 < len(fixed) < len(nodes):
                        best = (score, fixed)
    return sorted(best[1]) if best else []


def _sweep(graph, nodes, inside, key, want, unit, size):
    """Prefixes of a growth from the face with the smallest key, the frontier face of smallest key
    first: (score, members) for each prefix that is the best so far along this sweep."""
    start = min(nodes, key=lambda n: (key[n], n))
    taken: set[int] = {start}
    order = [start]
    weight = graph.weight[start]
    cut = sum(length for m, length in graph.adj[start].items() if m in inside)
    heap = [(key[m], m) for m in graph.adj[start] if m in inside]
    heapq.heapify(heap)
    best = math.inf
    while True:
        if len(order) < len(nodes):
            score = _balance(weight, cut, want, unit, size)
            if score < best:
                best = score
                yield score, list(order)
        if weight >= want or not heap:
            return
        _, n = heapq.heappop(heap)
        if n in taken:
            continue
        taken.add(n)
        order.append(n)
        weight += graph.weight[n]
        for m, length in graph.adj[n].items():
            if m not in inside:
                continue
            cut += -length if m in taken else length
            if m not in taken:
                heapq.heappush(heap, (key[m], m))


def _score(graph, members, inside, want, unit, size) -> float:
    chosen = set(members)
    weight = sum(graph.weight[n] for n in members)
    cut = sum(
        length for n in members for m, length in graph.adj[n].items() if m in inside and m not in chosen
    )
    return _balance(weight, cut, want, unit, size)


def _balance(weight: float, cut: float, want: float, unit: float, size: float) -> float:
    """A half's score: how far its households are from the share (in grids' worth), plus the length of
    the cut relative to the size of the set."""
    return abs(weight - want) / unit + CUT_PENALTY * cut / size


def _repair(graph: FaceGraph, members: list[int], inside: set[int]) -> list[int]:
    """`members` itself when the rest of the set is connected; otherwise `members` plus every piece of
    the rest but the heaviest (then largest), so that both halves are connected."""
    rest = graph.components(inside - set(members))
    if len(rest) <= 1:
        return members
    keep = max(rest, key=lambda p: (sum(graph.weight[n] for n in p), sum(graph.area[n] for n in p), -p[0]))
    return sorted(set(members).union(*(set(p) for p in rest if p is not keep)))


# ----------------------------------------------------------------------------------------- refinement
def _refine(graph: FaceGraph, parts: list[list[int]], target: float) -> list[list[int]]:
    """Move border faces between neighbouring grids while it lowers the cost (see `_cost`)."""
    if len(parts) < 2:
        return parts
    owner = {n: g for g, part in enumerate(parts) for n in part}
    members = [set(p) for p in parts]
    weight = [sum(graph.weight[n] for n in p) for p in parts]
    goal = sum(weight) / len(parts)
    size = math.sqrt(max(sum(graph.area) / max(len(graph.area), 1), 1.0)) * math.sqrt(
        max(len(graph.area), 1) / len(parts)
    )
    for _ in range(MAX_PASSES):
        moved = False
        for n in sorted(owner):
            a = owner[n]
            if len(members[a]) == 1:
                continue
            links: dict[int, float] = {}
            for m, length in graph.adj[n].items():
                if m in owner:
                    links[owner[m]] = links.get(owner[m], 0.0) + length
            own = links.pop(a, 0.0)
            best = None
            for b in sorted(links):
                gain = (
                    _cost(weight[a], goal, target)
                    + _cost(weight[b], goal, target)
                    - _cost(weight[a] - graph.weight[n], goal, target)
                    - _cost(weight[b] + graph.weight[n], goal, target)
                    # the grids' edge grows by what n shared with a, shrinks by what it shares with b
                    + CUT_PENALTY * (links[b] - own) / size
                )
                if gain <= 1e-9 or (best is not None and gain <= best[0]):
                    continue
                # Never buy one grid's way into the range with the other's: the worse of the two may not
                # move further off the target than it was (or than the range allows).
                w = graph.weight[n]
                before = max(_off(weight[a], target), _off(weight[b], target), ON_TARGET)
                if max(_off(weight[a] - w, target), _off(weight[b] + w, target)) <= before + 1e-12:
                    best = (gain, b)
            if best is None:
                continue
            rest = members[a] - {n}
            if len(graph.components(rest)) != 1:
                continue
            b = best[1]
            members[a].discard(n)
            members[b].add(n)
            owner[n] = b
            weight[a] -= graph.weight[n]
            weight[b] += graph.weight[n]
            moved = True
        if not moved:
            break
    return [sorted(m) for m in members if m]


def _off(weight: float, target: float) -> float:
    """How far off the target, as a share of it."""
    return abs(weight - target) / target if target > 0 else 0.0


def _cost(weight: float, goal: float, target: float) -> float:
    """Squared relative distance from the community's mean grid, plus a step for leaving ±20 % of the
    planner's target (the measure the proposal is judged by)."""
    goal = goal or 1.0
    off = 1.0 if _off(weight, target) > ON_TARGET else 0.0
    return ((weight - goal) / goal) ** 2 + off

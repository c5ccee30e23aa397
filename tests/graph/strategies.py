"""Hypothesis strategies for graph tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def random_dags(draw: st.DrawFn, max_nodes: int = 10) -> dict[str, list[str]]:
    """Random DAGs as ``node -> parents``: a node depends only on nodes drawn before it.

    Names are shuffled so that the order of drawing is not the alphabetical order.
    """
    size = draw(st.integers(min_value=1, max_value=max_nodes))
    names = draw(st.permutations([f"n{i:02d}" for i in range(size)]))
    edges: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        # One bit per earlier node: set bits are this node's parents.
        mask = draw(st.integers(min_value=0, max_value=(1 << i) - 1))
        edges[name] = [names[j] for j in range(i) if mask >> j & 1]
    return edges

"""ONNX-ML ``TreeEnsemble`` as SQL: one nested CASE per tree and target, summed per target.

A nested CASE evaluates one root-to-leaf path per row (depth comparisons), where a flat CASE
with one conjunction per leaf evaluates up to every leaf's whole path. Features arrive as
bound columns (see `Scope.bind`), so each comparison reads a column, not an expression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlml.ml.sqlgraph import Rows, UnsupportedModel, literal, sum_of

# TreeEnsemble's nodes_modes, as SQL comparisons (BRANCH_MEMBER is not supported).
_MODES = ("LTE", "LT", "GTE", "GT", "EQ", "NEQ")
_AGGREGATES = {0: "average", 1: "sum"}
_POST_TRANSFORMS = {0: "none"}


def tree_ensemble(node: Any, features: Rows, attribute: Callable[..., Any]) -> Rows:
    """The ensemble's raw output per target, as a per-row tensor of shape (n_targets,)."""
    import numpy as np

    aggregate = int(attribute(node, "aggregate_function", 1))
    if aggregate not in _AGGREGATES or int(attribute(node, "post_transform", 0)) not in (0,):
        raise UnsupportedModel("TreeEnsemble: only SUM or AVERAGE without post-transform")
    if features.values.ndim != 1:
        raise UnsupportedModel("TreeEnsemble: the features must be one row vector")
    n_targets = int(attribute(node, "n_targets"))
    tree = {
        "feature": np.asarray(attribute(node, "nodes_featureids"), dtype=np.int64),
        "split": np.asarray(attribute(node, "nodes_splits"), dtype=np.float64).ravel(),
        "mode": np.asarray(attribute(node, "nodes_modes"), dtype=np.int64).ravel(),
        "true": np.asarray(attribute(node, "nodes_truenodeids"), dtype=np.int64),
        "true_leaf": np.asarray(attribute(node, "nodes_trueleafs"), dtype=np.int64),
        "false": np.asarray(attribute(node, "nodes_falsenodeids"), dtype=np.int64),
        "false_leaf": np.asarray(attribute(node, "nodes_falseleafs"), dtype=np.int64),
        "missing": np.asarray(
            attribute(node, "nodes_missing_value_tracks_true", []), dtype=np.int64
        ),
        "target": np.asarray(attribute(node, "leaf_targetids"), dtype=np.int64),
        "weight": np.asarray(attribute(node, "leaf_weights"), dtype=np.float64).ravel(),
    }
    if np.any(tree["mode"] >= len(_MODES)):
        raise UnsupportedModel("TreeEnsemble: set-membership splits are not supported")
    roots = [int(r) for r in attribute(node, "tree_roots")]
    per_target: list[list[Any]] = [[] for _ in range(n_targets)]
    for root in roots:
        targets = sorted({int(tree["target"][leaf]) for leaf in _leaves(tree, root)})
        for target in targets:
            case = _case(tree, root, target, features.values, features.nullable)
            per_target[target].append(case)
    out = np.empty(n_targets, dtype=object)
    for target, cases in enumerate(per_target):
        total = sum_of(cases)
        if aggregate == 0 and roots:
            total = _divide(total, len(roots))
        out[target] = total
    return Rows(out, "double", nullable=False)


def _leaves(tree: dict[str, Any], root: int) -> list[int]:
    leaves: list[int] = []
    stack = [root]
    while stack:
        node = stack.pop()
        for side in ("true", "false"):
            child = int(tree[side][node])
            (leaves if tree[f"{side}_leaf"][node] else stack).append(child)
    return leaves


def _case(tree: dict[str, Any], node: int, target: int, features: Any, nullable: bool) -> Any:
    """The nested CASE of the subtree at ``node``: its leaves' weights for ``target``."""
    from sqlglot import exp

    def branch(side: str) -> Any:
        child = int(tree[side][node])
        if tree[f"{side}_leaf"][node]:
            weight = float(tree["weight"][child]) if tree["target"][child] == target else 0.0
            return literal(weight, "double")
        return _case(tree, child, target, features, nullable)

    yes, no = branch("true"), branch("false")
    if not isinstance(yes, exp.Case) and yes == no:  # one value either way: no comparison
        return yes
    value = features[int(tree["feature"][node])]
    split = literal(float(tree["split"][node]), "double")
    mode = _MODES[int(tree["mode"][node])]
    comparison = {
        "LTE": exp.LTE, "LT": exp.LT, "GTE": exp.GTE, "GT": exp.GT, "EQ": exp.EQ, "NEQ": exp.NEQ,
    }[mode](this=value, expression=split)  # fmt: skip
    if nullable and len(tree["missing"]) and tree["missing"][node]:
        comparison = exp.Or(this=comparison, expression=exp.Is(this=value, expression=exp.Null()))
    return exp.Case(ifs=[exp.If(this=comparison, true=yes)], default=no)


def _divide(total: Any, count: int) -> Any:
    from sqlglot import exp

    return exp.Div(this=exp.Paren(this=total), expression=literal(float(count), "double"))

"""Double-precision ONNX for scikit-learn's tree models, with the ONNX-ML ``TreeEnsemble`` op.

skl2onnx emits the older TreeEnsembleRegressor/Classifier ops, whose outputs are float32 in
onnxruntime, so its tree exports differ from scikit-learn by float32 rounding (up to 6e-3 in
probability measured for HistGradientBoosting; regression values off by ~1e-5 at a scale of
300); and skl2onnx 1.20 with onnx 1.23 cannot build its HistGradientBoosting graph at all.
``TreeEnsemble`` (ai.onnx.ml opset 5) compares and sums in double, so the graphs built here
reproduce scikit-learn's arithmetic:

- DecisionTree, RandomForest, ExtraTrees and GradientBoosting compare ``float32(x)`` with a
  double threshold (scikit-learn casts X to float32 first); the graph casts the same way.
- HistGradientBoosting compares the double value itself.
- Leaf values, learning rate and the initial/baseline score are kept in double.

Layout, for onnxruntime's speed. A TreeEnsemble leaf feeds one target, and onnxruntime's
kernel is much faster with one target than with several (which keep a vector of scores per
row). A forest classifier exports its trees for every class but the first, whose probability
is the complement of the others' (scikit-learn's per-tree probabilities sum to one): a binary
forest evaluates each tree once, not once per class (1.8-1.9x the rows per second of one
onnxruntime thread for 100 trees of depth 8). Boosting has one tree per iteration and class;
a multiclass model gets one single-target node per class (1.2x). Native categorical splits of
HistGradientBoosting are refused (sqlml one-hot encodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FOREST_CLASSES = frozenset(
    {
        "DecisionTreeClassifier",
        "DecisionTreeRegressor",
        "RandomForestClassifier",
        "RandomForestRegressor",
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
    }
)
BOOSTING_CLASSES = frozenset({"GradientBoostingClassifier", "GradientBoostingRegressor"})
HIST_CLASSES = frozenset({"HistGradientBoostingClassifier", "HistGradientBoostingRegressor"})
DOUBLE_TREE_CLASSES = FOREST_CLASSES | BOOSTING_CLASSES | HIST_CLASSES
ML_OPSET = 5  # TreeEnsemble's first version


class _Ensemble:
    """Accumulates the attributes of one TreeEnsemble node, tree by tree."""

    def __init__(self) -> None:
        self.parts: dict[str, list[Any]] = {}
        self.n_nodes = 0
        self.n_leaves = 0
        self.roots: list[int] = []

    def _extend(self, **columns: Any) -> None:
        for key, values in columns.items():
            self.parts.setdefault(key, []).append(values)

    def add(self, tree: dict[str, Any], weights: Any, target: int) -> None:
        """Add one tree; ``weights`` holds each node's contribution to ``target``."""
        import numpy as np

        left, right = tree["left"], tree["right"]
        is_leaf = left < 0
        if is_leaf[0]:  # a tree that is a single leaf: one split whose both sides reach it
            self.roots.append(self.n_nodes)
            leaf = np.array([self.n_leaves])
            self._extend(
                feature=np.array([0]),
                split=np.array([0.0]),
                true=leaf,
                true_leaf=np.ones(1),
                false=leaf,
                false_leaf=np.ones(1),
                missing=np.zeros(1),
                target=np.array([target]),
                weight=np.asarray(weights[:1], dtype=np.float64),
            )
            self.n_nodes += 1
            self.n_leaves += 1
            return
        node_id = np.cumsum(~is_leaf) - 1 + self.n_nodes
        leaf_id = np.cumsum(is_leaf) - 1 + self.n_leaves
        ref = np.where(is_leaf, leaf_id, node_id)
        inner = np.flatnonzero(~is_leaf)
        leaves = np.flatnonzero(is_leaf)
        lo, hi = left[inner], right[inner]
        self.roots.append(int(node_id[0]))
        self._extend(
            feature=tree["feature"][inner],
            split=tree["threshold"][inner],
            true=ref[lo],
            true_leaf=is_leaf[lo],
            false=ref[hi],
            false_leaf=is_leaf[hi],
            missing=tree["missing"][inner],
            target=np.full(len(leaves), target),
            weight=np.asarray(weights, dtype=np.float64)[leaves],
        )
        self.n_nodes += len(inner)
        self.n_leaves += len(leaves)

    def node(self, source: str, output: str, n_targets: int) -> Any:
        import numpy as np
        from onnx import TensorProto, helper

        def ints(key: str) -> list[int]:
            return [int(v) for v in np.concatenate(self.parts[key])]

        def doubles(key: str) -> Any:
            values = np.concatenate(self.parts[key]).astype(np.float64)
            return helper.make_tensor(key, TensorProto.DOUBLE, [len(values)], values.tolist())

        return helper.make_node(
            "TreeEnsemble",
            [source],
            [output],
            domain="ai.onnx.ml",
            n_targets=n_targets,
            aggregate_function=1,  # SUM
            post_transform=0,  # NONE
            tree_roots=self.roots,
            nodes_featureids=ints("feature"),
            nodes_splits=doubles("split"),
            nodes_modes=helper.make_tensor(
                "modes",
                TensorProto.UINT8,
                [self.n_nodes],
                [0] * self.n_nodes,  # BRANCH_LEQ
            ),
            nodes_truenodeids=ints("true"),
            nodes_trueleafs=ints("true_leaf"),
            nodes_falsenodeids=ints("false"),
            nodes_falseleafs=ints("false_leaf"),
            nodes_missing_value_tracks_true=ints("missing"),
            leaf_targetids=ints("target"),
            leaf_weights=doubles("weight"),
        )


def _add_trees(
    estimator: Any, n_features: int, compact: bool, add: Callable[[dict[str, Any], Any, int], None]
) -> tuple[int, Any]:
    """Hand every tree of ``estimator`` to ``add`` with its leaf weights and the raw-score
    column it feeds; return the number of columns and the constant added to them (or None)."""
    import numpy as np

    name = type(estimator).__name__
    if name in HIST_CLASSES:
        for predictors in estimator._predictors:
            for k, predictor in enumerate(predictors):
                tree = _hist_tree(predictor)
                add(tree, tree["value"], k)
        offset = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(1, -1)
        return int(estimator.n_trees_per_iteration_), offset
    if name in BOOSTING_CLASSES:
        for stage in estimator.estimators_:
            for k, member in enumerate(stage):
                tree = _sklearn_tree(member)
                add(tree, estimator.learning_rate * tree["value"][:, 0, 0], k)
        zeros = np.zeros((1, n_features), dtype=np.float32)
        offset = np.asarray(estimator._raw_predict_init(zeros), dtype=np.float64)
        return int(estimator.estimators_.shape[1]), offset
    members = getattr(estimator, "estimators_", [estimator])
    exported = _forest_classes(estimator, compact)
    for member in members:
        tree = _sklearn_tree(member)
        value = tree["value"][:, 0, :]
        if hasattr(estimator, "classes_"):  # each tree's class probabilities, as predicted
            value = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
        for column, k in enumerate(exported):
            add(tree, value[:, k] / len(members), column)
    return len(exported), None


def _sklearn_tree(estimator: Any) -> dict[str, Any]:
    import numpy as np

    tree = estimator.tree_
    missing = getattr(tree, "missing_go_to_left", None)
    return {
        "left": np.asarray(tree.children_left, dtype=np.int64),
        "right": np.asarray(tree.children_right, dtype=np.int64),
        "feature": np.asarray(tree.feature, dtype=np.int64),
        "threshold": np.asarray(tree.threshold, dtype=np.float64),
        "missing": np.zeros(tree.node_count) if missing is None else np.asarray(missing),
        "value": np.asarray(tree.value, dtype=np.float64),
    }


def _hist_tree(predictor: Any) -> dict[str, Any]:
    import numpy as np

    nodes = predictor.nodes
    is_leaf = nodes["is_leaf"].astype(bool)
    if np.any(nodes["is_categorical"].astype(bool) & ~is_leaf):
        raise ValueError("native categorical splits cannot be exported in double precision")
    return {
        "left": np.where(is_leaf, -1, nodes["left"].astype(np.int64)),
        "right": np.where(is_leaf, -1, nodes["right"].astype(np.int64)),
        "feature": nodes["feature_idx"].astype(np.int64),
        "threshold": nodes["num_threshold"].astype(np.float64),
        "missing": nodes["missing_go_to_left"].astype(np.int64),
        "value": nodes["value"].astype(np.float64),
    }


def _forest_classes(estimator: Any, compact: bool) -> list[int]:
    """The classes whose probability a forest's trees are exported for: all but the first,
    whose probability is the complement of theirs (one class: that class)."""
    n_classes = len(estimator.classes_) if hasattr(estimator, "classes_") else 1
    return list(range(1 if compact and n_classes > 1 else 0, n_classes))


def tree_model(estimator: Any, n_features: int, opset: int, *, compact: bool = True) -> Any:
    """An ONNX model of a fitted tree estimator: input ``features`` (double [N, n_features]);
    outputs ``label`` and ``probabilities`` (double [N, classes]) for a classifier,
    ``prediction`` (double [N, 1]) for a regressor.

    ``compact=False`` builds the layout sqlml exported before: one TreeEnsemble node for every
    class, with a forest's trees copied for each class. Models registered then keep those
    bytes; the option exists so tests and benchmarks can build such models.
    """
    import numpy as np
    from onnx import TensorProto, helper

    name = type(estimator).__name__
    classifier = hasattr(estimator, "classes_")
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(value: Any, dtype: Any = np.float64) -> str:
        array = np.asarray(value, dtype=dtype)
        key = f"const_{len(inits)}"
        element = helper.np_dtype_to_tensor_dtype(array.dtype)
        inits.append(helper.make_tensor(key, element, array.shape, array.ravel().tolist()))
        return key

    def op(op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    # A forest's copies of one tree (one per class) take the same path: kept side by side in
    # one node, they run faster than one node per class (measured 1.25x for three classes).
    # Boosting's trees differ per class and run faster as single-target nodes (1.2x).
    one_node = name in FOREST_CLASSES or not compact
    ensembles: dict[int, _Ensemble] = {}

    def add(tree: dict[str, Any], weights: Any, column: int) -> None:
        """Add a tree whose leaves feed column ``column`` of the raw score."""
        key, target = (0, column) if one_node else (column, 0)
        ensembles.setdefault(key, _Ensemble()).add(tree, weights, target)

    source = "features"
    if name not in HIST_CLASSES:  # scikit-learn's trees see float32(x): cast down and back up
        down = op("Cast", [source], "features_f32", to=TensorProto.FLOAT)
        source = op("Cast", [down], "features_as_f32", to=TensorProto.DOUBLE)
    columns, offset = _add_trees(estimator, n_features, compact, add)
    if len(ensembles) == 1:
        nodes.append(ensembles[0].node(source, "raw_sum", columns if one_node else 1))
    else:  # one single-target node per column
        parts = [f"raw_sum_{column}" for column in sorted(ensembles)]
        for column, part in zip(sorted(ensembles), parts, strict=True):
            nodes.append(ensembles[column].node(source, part, 1))
        op("Concat", parts, "raw_sum", axis=1)
    raw = "raw_sum" if offset is None else op("Add", ["raw_sum", const(offset)], "raw")

    outputs = []
    if classifier:
        if name in FOREST_CLASSES and columns < len(estimator.classes_):
            # the trees give every class but the first; its probability is the complement,
            # kept from going a rounding error below zero
            others = raw
            if columns > 1:
                others = op("ReduceSum", [raw, const([1], np.int64)], "others", keepdims=1)
            first = op("Relu", [op("Sub", [const(1.0), others], "complement")], "first")
            probabilities = op("Concat", [first, raw], "probabilities", axis=1)
        elif name in FOREST_CLASSES:
            probabilities = op("Identity", [raw], "probabilities")
        elif columns == 1:  # binary: the raw score is the positive class's log-odds
            if getattr(estimator, "loss", "") == "exponential":
                raw = op("Mul", [raw, const(2.0)], "raw_doubled")
            positive = op("Sigmoid", [raw], "positive")
            negative = op("Sub", [const(1.0), positive], "negative")
            probabilities = op("Concat", [negative, positive], "probabilities", axis=1)
        else:
            probabilities = op("Softmax", [raw], "probabilities", axis=1)
        index = op("ArgMax", [probabilities], "class_index", axis=1, keepdims=0)
        classes = np.asarray(estimator.classes_)
        if classes.dtype.kind in "iub":
            labels = helper.make_tensor(
                "classes", TensorProto.INT64, [len(classes)], classes.astype(np.int64).tolist()
            )
            label_type = TensorProto.INT64
        else:
            names: list[Any] = [str(c).encode() for c in classes]
            labels = helper.make_tensor("classes", TensorProto.STRING, [len(classes)], names)
            label_type = TensorProto.STRING
        inits.append(labels)
        op("Gather", ["classes", index], "label", axis=0)
        outputs = [
            helper.make_tensor_value_info("label", label_type, [None]),
            helper.make_tensor_value_info(probabilities, TensorProto.DOUBLE, [None, len(classes)]),
        ]
    else:
        if name in HIST_CLASSES and estimator.loss in ("poisson", "gamma"):
            raw = op("Exp", [raw], "raw_exp")  # log link
        op("Identity", [raw], "prediction")
        outputs = [helper.make_tensor_value_info("prediction", TensorProto.DOUBLE, [None, 1])]

    graph = helper.make_graph(
        nodes,
        f"sqlml_{name}",
        [helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, n_features])],
        outputs,
        initializer=inits,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
    )

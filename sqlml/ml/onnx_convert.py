"""Building the ONNX graph of a trained pipeline: its preprocessing through skl2onnx (with a
double-precision SimpleImputer), then its estimator (sqlml's double tree export or skl2onnx),
joined into one model with one input per feature column."""

from __future__ import annotations

from typing import Any, Literal

from sqlml.errors import TrainingError
from sqlml.ml.onnx_trees import DOUBLE_TREE_CLASSES, tree_model
from sqlml.ml.train import TrainedModel

OPSET = 18  # the default ONNX domain
SKL2ONNX_ML_OPSET = 3

Precision = Literal["double", "float32"]


def convert(
    model: TrainedModel, precision: Precision = "double", *, compact_trees: bool = True
) -> Any:
    """The fitted pipeline as one ONNX model; its estimator part computes in ``precision``
    (preprocessing always runs in double). ``compact_trees=False`` gives tree models the layout
    of earlier sqlml exports (see `tree_model`). Raises TrainingError ("onnx export")."""
    spec = model.spec
    estimator = model.estimator
    name = type(estimator).__name__
    try:
        prep, width = _preprocessing(model)
        if name in DOUBLE_TREE_CLASSES:
            return _join(prep, tree_model(estimator, width, OPSET, compact=compact_trees))
        return _join(prep, _skl2onnx_estimator(estimator, width, double=precision == "double"))
    except Exception as exc:  # the boundary where skl2onnx's errors become ours
        raise TrainingError(
            f"onnx export failed ({precision}) for {name}: {first_line(exc)}",
            node=spec.name,
            location=spec.location("estimator", "class"),
            hint="every model is exported to ONNX; pick an estimator and parameters skl2onnx "
            "can convert",
        ) from exc


def first_line(exc: Exception) -> str:
    """The first line of a library's error message, for one-line error texts."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0][:300]


def _preprocessing(model: TrainedModel) -> tuple[Any, int]:
    """The ColumnTransformer as ONNX: one input per column, output a double matrix."""
    from onnx import compose
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from sklearn.impute import SimpleImputer

    columns = model.pipeline.named_steps["preprocess"]
    types = [
        (
            f.name,
            DoubleTensorType([None, 1]) if f.kind == "numeric" else StringTensorType([None, 1]),
        )
        for f in model.features
    ]
    proto = convert_sklearn(
        columns,
        initial_types=types,
        target_opset={"": OPSET, "ai.onnx.ml": SKL2ONNX_ML_OPSET},
        custom_conversion_functions={SimpleImputer: _convert_imputer},
    )
    proto = compose.add_prefix(proto, "preprocess/", rename_inputs=False)
    # skl2onnx turns names into identifiers ("size (cm)" -> "size__cm_"); inputs keep the column's
    for graph_input, feature in zip(proto.graph.input, model.features, strict=True):
        if graph_input.name != feature.name:
            for node in proto.graph.node:
                node.input[:] = [feature.name if i == graph_input.name else i for i in node.input]
            graph_input.name = feature.name
    return proto, len(columns.get_feature_names_out())


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer on doubles with standard ops (IsNaN, Where) instead of the float-only
    ONNX-ML Imputer; strings go to skl2onnx's own converter."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    imputer = operator.raw_operator
    if not isinstance(operator.inputs[0].type, DoubleTensorType):
        convert_sklearn_imputer(scope, operator, container)
        return
    values = concatenate_variables(scope, operator.inputs, container)
    statistics = scope.get_unique_variable_name("statistics")
    stats = np.asarray(imputer.statistics_, dtype=np.float64)
    container.add_initializer(statistics, TensorProto.DOUBLE, [1, len(stats)], stats.tolist())
    missing = scope.get_unique_variable_name("missing")
    container.add_node("IsNaN", [values], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [missing, statistics, values],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


def _skl2onnx_estimator(estimator: Any, width: int, *, double: bool) -> Any:
    """The estimator alone via skl2onnx, wrapped to take ``features`` (double) and give the
    standard outputs in double."""
    from onnx import TensorProto, compose, helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor_type = DoubleTensorType if double else FloatTensorType
    classifier = hasattr(estimator, "classes_")
    proto = convert_sklearn(
        estimator,
        initial_types=[("input", tensor_type([None, width]))],
        options={id(estimator): {"zipmap": False}} if classifier else None,
        target_opset={"": OPSET, "ai.onnx.ml": SKL2ONNX_ML_OPSET},
    )
    proto = compose.add_prefix(proto, "estimator/")
    graph = proto.graph
    produced = [o.name for o in graph.output]
    to = TensorProto.DOUBLE if double else TensorProto.FLOAT
    head = [helper.make_node("Cast", ["features"], [graph.input[0].name], to=to)]
    double_out = TensorProto.DOUBLE
    if classifier:
        tail = [
            helper.make_node("Identity", [produced[0]], ["label"]),
            helper.make_node("Cast", [produced[1]], ["probabilities"], to=double_out),
        ]
        label_type = graph.output[0].type.tensor_type.elem_type
        outputs = [
            helper.make_tensor_value_info("label", label_type, [None]),
            helper.make_tensor_value_info("probabilities", double_out, [None, None]),
        ]
    else:
        shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1])
        graph.initializer.append(shape)
        tail = [
            helper.make_node("Cast", [produced[0]], ["prediction_any"], to=double_out),
            helper.make_node("Reshape", ["prediction_any", "shape"], ["prediction"]),
        ]
        outputs = [helper.make_tensor_value_info("prediction", double_out, [None, 1])]
    wrapped = helper.make_graph(
        [*head, *graph.node, *tail],
        "sqlml_estimator",
        [helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, width])],
        outputs,
        initializer=list(graph.initializer),
    )
    return helper.make_model(wrapped, opset_imports=list(proto.opset_import))


def _join(prep: Any, estimator: Any) -> Any:
    """Preprocessing then estimator, as one model with the union of their opsets."""
    from onnx import compose, helper

    # the estimator's own names ("features", "raw", ...) may not clash with the column inputs
    estimator = compose.add_prefix(estimator, "estimator/", rename_outputs=False)
    versions: dict[str, int] = {}
    for model in (prep, estimator):
        for entry in model.opset_import:
            versions[entry.domain] = max(versions.get(entry.domain, 0), entry.version)
    opsets = [helper.make_opsetid(domain, version) for domain, version in versions.items()]
    ir_version = helper.find_min_ir_version_for(opsets)
    for model in (prep, estimator):
        del model.opset_import[:]
        model.opset_import.extend(opsets)
        model.ir_version = ir_version
    return compose.merge_models(
        prep, estimator, io_map=[(prep.graph.output[0].name, "estimator/features")], name="sqlml"
    )

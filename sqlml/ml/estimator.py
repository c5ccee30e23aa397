"""The estimator named in a spec: imported, built with its parameters, and checked to fit the
task and to be exportable to ONNX, all before any data is read."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from sqlml.errors import ConfigError, did_you_mean
from sqlml.ml.onnx_trees import DOUBLE_TREE_CLASSES
from sqlml.ml.spec import MLSpec

# Parameters whose values the ONNX export cannot reproduce.
_UNEXPORTABLE_PARAMS = {
    ("GradientBoostingClassifier", "init"): "a custom init estimator",
    ("GradientBoostingRegressor", "init"): "a custom init estimator",
    ("HistGradientBoostingClassifier", "categorical_features"): "native categorical splits",
    ("HistGradientBoostingRegressor", "categorical_features"): "native categorical splits",
}
_DEFAULTS_ALLOWED = {None, "from_dtype"}


def estimator_class(spec: MLSpec) -> type:
    """Import the class at ``estimator.class``; a wrong path is a ConfigError with a suggestion."""
    path = spec.estimator_class
    where = spec.location("estimator", "class")
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ConfigError(
            f"estimator class '{path}' is not an import path",
            node=spec.name,
            location=where,
            hint="write the full path, e.g. sklearn.ensemble.RandomForestClassifier",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import module '{module_name}' for estimator '{path}': {exc}",
            node=spec.name,
            location=where,
            hint="check the spelling, or install the package that provides it",
        ) from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        classes = [n for n, v in vars(module).items() if isinstance(v, type)]
        raise ConfigError(
            f"module '{module_name}' has no class '{class_name}'",
            node=spec.name,
            location=where,
            hint=did_you_mean(class_name, classes) or "check the class name",
        )
    from sklearn.base import BaseEstimator

    if not issubclass(cls, BaseEstimator) or not hasattr(cls, "fit"):
        raise ConfigError(
            f"'{path}' is not a scikit-learn estimator",
            node=spec.name,
            location=where,
            hint="name a scikit-learn classifier or regressor",
        )
    return cls


def make_estimator(spec: MLSpec) -> Any:
    """A new, unfitted estimator with the spec's parameters, checked by scikit-learn's own
    parameter validation where the estimator has it."""
    cls = estimator_class(spec)
    params = dict(spec.estimator_params)
    allowed = list(inspect.signature(cls).parameters)
    for name in params:
        if name not in allowed:
            raise ConfigError(
                f"{cls.__name__} has no parameter '{name}'",
                node=spec.name,
                location=spec.location("estimator", "params", name),
                hint=did_you_mean(name, allowed) or f"its parameters: {', '.join(allowed)}",
            )
    estimator = cls(**params)
    validate_params = getattr(estimator, "_validate_params", None)
    if callable(validate_params):
        try:
            validate_params()
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"invalid estimator parameter: {exc}",
                node=spec.name,
                location=spec.location("estimator", "params"),
            ) from None
    return estimator


def check_estimator(spec: MLSpec, estimator: Any) -> None:
    """The estimator fits the task, gives probabilities when classifying, and can be exported.

    Raises ConfigError naming the spec's ``estimator`` key and what to change.
    """
    from sklearn.base import is_classifier, is_regressor

    name = type(estimator).__name__
    where = spec.location("estimator", "class")
    kind = "classifier" if is_classifier(estimator) else "regressor"
    wanted = "classifier" if spec.task == "classification" else "regressor"
    if not (is_classifier(estimator) or is_regressor(estimator)):
        raise ConfigError(
            f"{name} is neither a classifier nor a regressor",
            node=spec.name,
            location=where,
            hint=f"task is {spec.task}: name a scikit-learn {wanted}",
        )
    if kind != wanted:
        other = "regression" if spec.task == "classification" else "classification"
        raise ConfigError(
            f"{name} is a {kind} but task is {spec.task}",
            node=spec.name,
            location=where,
            hint=f"name a {wanted}, or set task: {other}",
        )
    if spec.task == "classification" and not hasattr(estimator, "predict_proba"):
        raise ConfigError(
            f"{name} does not give class probabilities (no predict_proba)",
            node=spec.name,
            location=where,
            hint="sqlml exports probabilities: pick a classifier with predict_proba "
            "(for SVC, set probability: true)",
        )
    check_exportable(spec, estimator)


def check_exportable(spec: MLSpec, estimator: Any) -> None:
    """skl2onnx (or sqlml's own tree export) has a converter for the estimator as configured."""
    from skl2onnx import get_model_alias

    cls = type(estimator)
    name = cls.__name__
    try:
        supported = name in DOUBLE_TREE_CLASSES or bool(get_model_alias(cls))
    except RuntimeError:  # skl2onnx: "Unable to find alias for model ..."
        supported = False
    if not supported or not cls.__module__.startswith("sklearn."):
        raise ConfigError(
            f"{spec.estimator_class} cannot be exported to ONNX: skl2onnx has no converter for it",
            node=spec.name,
            location=spec.location("estimator", "class"),
            hint="sqlml exports every model to ONNX: pick an estimator skl2onnx supports "
            "(https://onnx.ai/sklearn-onnx/supported.html)",
        )
    params = estimator.get_params(deep=False)
    for (class_name, param), what in _UNEXPORTABLE_PARAMS.items():
        value = params.get(param) if class_name == name else None
        if value is not None and not (isinstance(value, str) and value in _DEFAULTS_ALLOWED):
            raise ConfigError(
                f"{name} with {param}={value!r} ({what}) cannot be exported to ONNX exactly",
                node=spec.name,
                location=spec.location("estimator", "params", param),
                hint=f"remove {param}; sqlml one-hot encodes categorical columns itself"
                if param == "categorical_features"
                else f"remove {param}",
            )

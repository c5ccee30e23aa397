"""Python sources: a function of the project (or of an installed package) that returns rows.

The function is named ``package.module:function`` and called with the source's ``args`` as
keyword arguments. What it returns becomes one Arrow table. Exceptions raised while importing
or calling it are translated into an ``ExecutionError`` here, chained so ``--debug`` shows them.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlml.errors import ExecutionError, Location, did_you_mean
from sqlml.sources.settings import check_keys, require_text

if TYPE_CHECKING:
    import pyarrow as pa

PYTHON_SETTINGS = ("function", "args")
RETURNS = (
    "return a pyarrow Table or RecordBatchReader, a pandas DataFrame, a list of dicts (one per "
    "row) or a dict of columns (name -> list of values)"
)


def extract_python(settings: Mapping[str, Any], *, source: str, root: Path) -> pa.Table:
    """Import the function named by ``settings["function"]``, call it, return its rows."""
    check_keys(settings, PYTHON_SETTINGS, kind="python", source=source)
    spec = require_text(settings, "function", source=source, example="sources_py.weather:fetch")
    args = settings.get("args") or {}
    if not isinstance(args, Mapping) or not all(isinstance(key, str) for key in args):
        raise ExecutionError(
            f"source '{source}': `args` must map parameter names to values, not {args!r}",
            node=source,
            hint="write args as a mapping, e.g. args: {city: Paris, days: 7}",
        )
    with project_imports(root):
        function = load_function(spec, source=source, root=root)
        return _call(function, args, spec=spec, source=source, root=root)


def _call(
    function: Callable[..., Any], args: Mapping[str, Any], *, spec: str, source: str, root: Path
) -> pa.Table:
    try:
        inspect.signature(function).bind(**args)
    except TypeError as exc:
        raise ExecutionError(
            f"source '{source}': {spec} cannot be called with args {dict(args)!r}: {exc}",
            node=source,
            hint=f"make `args` match the parameters of {spec}{inspect.signature(function)}",
        ) from None
    except ValueError:
        pass  # no signature to check (a builtin): the call will tell
    try:
        result = function(**args)
    except (Exception, SystemExit) as exc:
        raise _raised(exc, f"function {spec}", source=source, root=root) from exc
    return _to_arrow(result, spec=spec, source=source, root=root)


def load_function(spec: str, *, source: str, root: Path) -> Callable[..., Any]:
    """The callable named ``module:function`` (``module:Class.method`` also works).

    Call it within `project_imports` (``root``), so a project-local ``sources_py/weather.py``
    is importable as ``sources_py.weather``.
    """
    module_name, colon, attribute = spec.partition(":")
    names = [*module_name.split("."), *attribute.split(".")]
    if not colon or not all(name.isidentifier() for name in names):
        raise ExecutionError(
            f"source '{source}': function '{spec}' is not of the form 'module:function'",
            node=source,
            hint="name the module, a colon, then the function, e.g. "
            "function: sources_py.weather:fetch for fetch() in sources_py/weather.py",
        )
    importlib.invalidate_caches()  # a module written since the last import must be found
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise ExecutionError(
                f"source '{source}': cannot import module '{module_name}': no such module",
                node=source,
                hint=f"add {module_name.replace('.', '/')}.py to the project folder {root}, "
                "install the package that provides it, or fix `function`",
            ) from None
        raise ExecutionError(
            f"source '{source}': module '{module_name}' imports '{exc.name}', "
            "which is not installed",
            node=source,
            hint=f"install {str(exc.name).split('.')[0]} into the environment that runs sqlml",
        ) from exc
    except (Exception, SystemExit) as exc:
        raise _raised(exc, f"importing module '{module_name}'", source=source, root=root) from exc
    found: Any = module
    for position, name in enumerate(attribute.split(".")):
        if not hasattr(found, name):
            owner = ".".join([module_name, *attribute.split(".")[:position]])
            public = [n for n in dir(found) if not n.startswith("_")]
            suggestion = did_you_mean(name, public)
            raise ExecutionError(
                f"source '{source}': module '{owner}' has no attribute '{name}'",
                node=source,
                hint=(suggestion + " " if suggestion else "")
                + f"define {name}() in {_module_file(module, root)} or fix `function`",
            )
        found = getattr(found, name)
    if not callable(found):
        raise ExecutionError(
            f"source '{source}': {spec} is a {type(found).__name__}, not a function",
            node=source,
            hint="point `function` at a function that returns the rows",
        )
    return found  # type: ignore[no-any-return]


# sys.path and sys.modules belong to the process, and python sources of one project may run
# on several threads at once: each project folder is on sys.path while any of them runs, and
# counted here, so the last to finish takes it off.
_IMPORTS_LOCK = threading.Lock()
_IMPORTING: dict[str, tuple[int, frozenset[str]]] = {}  # folder -> (users, modules before)


@contextmanager
def project_imports(root: Path) -> Iterator[None]:
    """Put the project folder first on ``sys.path`` for the duration; afterwards take it off
    again and forget the modules imported from it, so neither the process nor the next
    project (which may have a ``sources_py`` of its own) sees them."""
    folder = str(root.resolve())
    with _IMPORTS_LOCK:
        users, before = _IMPORTING.get(folder, (0, frozenset()))
        if users == 0:
            before = frozenset(sys.modules)
            sys.path.insert(0, folder)
        _IMPORTING[folder] = (users + 1, before)
    try:
        yield
    finally:
        with _IMPORTS_LOCK:
            users, before = _IMPORTING.pop(folder)
            if users > 1:
                _IMPORTING[folder] = (users - 1, before)
            else:
                sys.path.remove(folder)
                for name in [n for n in sys.modules if n not in before]:
                    if _imported_from(sys.modules[name], folder):
                        del sys.modules[name]


def _imported_from(module: Any, folder: str) -> bool:
    places = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or ())]
    return any(str(p).startswith(folder + os.sep) for p in places if p)


def _to_arrow(result: Any, *, spec: str, source: str, root: Path) -> pa.Table:
    import pyarrow as pa

    if isinstance(result, pa.Table):
        return result
    if isinstance(result, pa.RecordBatchReader):
        try:
            return result.read_all()
        except Exception as exc:
            raise _raised(exc, f"reading the batches {spec} returned", source, root) from exc
    if isinstance(result, pa.RecordBatch):
        return pa.Table.from_batches([result])
    pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is already imported
    if pandas is not None and isinstance(result, pandas.DataFrame):
        # A named index (set_index('day')) is data; a default or filtered one is not.
        keep_index = any(name is not None for name in result.index.names)
        try:
            return pa.Table.from_pandas(result, preserve_index=keep_index)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise _untypable(spec, source, str(exc)) from None
    if isinstance(result, list):
        return _from_rows(result, spec=spec, source=source)
    if isinstance(result, Mapping):
        return _from_columns(result, spec=spec, source=source)
    if hasattr(result, "__arrow_c_stream__"):  # polars, DuckDB relations, ...
        return pa.table(result)
    raise ExecutionError(
        f"source '{source}': {spec} returned {_kind(result)}, which sqlml cannot land",
        node=source,
        hint=RETURNS + _return_advice(result),
    )


def _from_rows(rows: list[Any], *, spec: str, source: str) -> pa.Table:
    if not rows:
        raise ExecutionError(
            f"source '{source}': {spec} returned an empty list, which has no columns to land",
            node=source,
            hint="to land an empty table, return a pyarrow Table with a schema, e.g. "
            "pa.table({'id': pa.array([], pa.int64())})",
        )
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ExecutionError(
                f"source '{source}': {spec} returned a list whose item {number} is "
                f"{_kind(row)}, not a dict",
                node=source,
                hint="return one dict per row, mapping column names to values",
            )
    # Every key of every row is a column (pyarrow's from_pylist would only see the first row's).
    names = list(dict.fromkeys(key for row in rows for key in row))
    return _from_columns({name: [row.get(name) for row in rows] for name in names}, spec, source)


def _from_columns(columns: Mapping[Any, Any], spec: str, source: str) -> pa.Table:
    import pyarrow as pa

    arrays: dict[str, Any] = {}
    for name, values in columns.items():
        if not isinstance(name, str):
            raise ExecutionError(
                f"source '{source}': {spec} returned a column named {name!r}, not a string",
                node=source,
                hint="name every column with a string",
            )
        if isinstance(values, pa.Array | pa.ChunkedArray):
            arrays[name] = values
            continue
        if not hasattr(values, "__len__") or isinstance(values, str | bytes | Mapping):
            raise ExecutionError(
                f"source '{source}': {spec} returned a dict whose value for '{name}' is "
                f"{_kind(values)}, not a list of values",
                node=source,
                hint=RETURNS,
            )
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as exc:
            raise _untypable(spec, source, f"column '{name}': {exc}") from None
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"'{name}' has {length}" for name, length in lengths.items())
        raise ExecutionError(
            f"source '{source}': {spec} returned columns of different lengths: {listed}",
            node=source,
            hint="give every column one value per row (None where a value is missing)",
        )
    return pa.table(arrays)


def _raised(exc: BaseException, doing: str, source: str, root: Path) -> ExecutionError:
    """An error raised by project code, located at the deepest line of the project it passed."""
    location = None
    folder = root.resolve()
    frames = [
        (frame.filename, frame.lineno or 0) for frame in traceback.extract_tb(exc.__traceback__)
    ]
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append((exc.filename, exc.lineno or 0))
    for filename, line in reversed(frames):
        path = Path(filename)
        if path.is_absolute() and path.resolve().is_relative_to(folder):
            location = Location(path.resolve().relative_to(folder).as_posix(), line)
            break
    return ExecutionError(
        f"source '{source}': {doing} raised {type(exc).__name__}: {exc}",
        node=source,
        location=location,
        hint="fix the code or what it reads; run with --debug to see the full traceback",
    )


def _untypable(spec: str, source: str, detail: str) -> ExecutionError:
    return ExecutionError(
        f"source '{source}': what {spec} returned cannot be converted to Arrow: {detail}",
        node=source,
        hint="give every value of a column the same type, and None where a value is missing",
    )


def _return_advice(result: Any) -> str:
    if result is None:
        return " (is a `return` missing?)"
    if inspect.isgenerator(result):
        return " (wrap a generator in list(...))"
    return ""


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _module_file(module: Any, root: Path) -> str:
    filename = getattr(module, "__file__", None)
    if not filename:
        return f"module {module.__name__}"
    try:
        return Path(filename).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(filename)

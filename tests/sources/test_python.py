"""Python sources: real modules written into a project folder, imported and called."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sqlml.errors import ExecutionError, Location
from sqlml.sources import extract
from tests.projectfactory import write_project

HEADER = "import datetime as dt\nimport pyarrow as pa\n\n"
ROWS = """\
def rows():
    return [
        {"id": 1, "city": "Paris", "temp": 21.5, "rain": False, "at": dt.datetime(2024, 7, 1, 12)},
        {"id": 2, "city": None, "temp": None, "rain": True, "at": None},
        {"id": 3, "city": "Oslo", "wind": 7},
    ]
"""


@pytest.fixture(autouse=True)
def _imports(isolated_imports: None) -> None:
    """Each test imports its own project's modules afresh."""


def read(root: Path, function: str, args: Mapping[str, Any] | None = None) -> pa.Table:
    settings: dict[str, Any] = {"function": function}
    if args is not None:
        settings["args"] = args
    return extract("python", settings, source="weather.daily", root=root)


def failure(root: Path, function: str, args: Any = None) -> ExecutionError:
    with pytest.raises(ExecutionError) as caught:
        read(root, function, args)
    return caught.value


def weather(tmp_path: Path, body: str) -> Path:
    """A project with ``body`` in sources_py/weather.py."""
    return write_project(
        tmp_path, {"sources_py/__init__.py": "", "sources_py/weather.py": HEADER + body}
    )


def test_a_list_of_dicts_lands_every_key_of_every_row(tmp_path: Path) -> None:
    table = read(weather(tmp_path, ROWS), "sources_py.weather:rows")

    assert table.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("city", pa.string()),
            ("temp", pa.float64()),
            ("rain", pa.bool_()),
            ("at", pa.timestamp("us")),
            ("wind", pa.int64()),
        ]
    )
    assert table.to_pylist() == [
        {"id": 1, "city": "Paris", "temp": 21.5, "rain": False, "at": dt.datetime(2024, 7, 1, 12),
         "wind": None},
        {"id": 2, "city": None, "temp": None, "rain": True, "at": None, "wind": None},
        {"id": 3, "city": "Oslo", "temp": None, "rain": None, "at": None, "wind": 7},
    ]  # fmt: skip


def test_an_arrow_table_is_taken_as_it_is_and_args_are_passed(tmp_path: Path) -> None:
    root = weather(
        tmp_path,
        """\
def fetch(city, days=1):
    return pa.table({"city": [city] * days, "day": pa.array(range(days), pa.int16())})
""",
    )

    table = read(root, "sources_py.weather:fetch", {"city": "Lyon", "days": 2})

    assert table.schema == pa.schema([("city", pa.string()), ("day", pa.int16())])
    assert table.to_pylist() == [{"city": "Lyon", "day": 0}, {"city": "Lyon", "day": 1}]


def test_a_dict_of_columns(tmp_path: Path) -> None:
    root = weather(
        tmp_path,
        'def columns():\n    return {"id": [1, 2], "ok": [True, None], "name": ["a", None]}\n',
    )

    table = read(root, "sources_py.weather:columns")

    assert table.schema == pa.schema(
        [("id", pa.int64()), ("ok", pa.bool_()), ("name", pa.string())]
    )
    assert table.to_pylist() == [
        {"id": 1, "ok": True, "name": "a"},
        {"id": 2, "ok": None, "name": None},
    ]


def test_a_record_batch_reader_is_read_to_the_end(tmp_path: Path) -> None:
    root = weather(
        tmp_path,
        """\
def stream():
    schema = pa.schema([("n", pa.int32())])
    batches = (pa.record_batch([pa.array([i, i + 1], pa.int32())], schema=schema)
               for i in (0, 2))
    return pa.RecordBatchReader.from_batches(schema, batches)
""",
    )

    table = read(root, "sources_py.weather:stream")

    assert table.column("n").to_pylist() == [0, 1, 2, 3]
    assert table.schema.field("n").type == pa.int32()


def test_a_pandas_data_frame_keeps_a_named_index_only(tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="pandas is optional and not installed")
    root = weather(
        tmp_path,
        """\
import pandas as pd

def frame():
    df = pd.DataFrame({"day": ["mon", "tue", "wed"], "temp": [20.5, None, 18.0]})
    return df[df["day"] != "mon"]

def indexed():
    return frame().set_index("day")
""",
    )

    assert read(root, "sources_py.weather:frame").to_pylist() == [
        {"day": "tue", "temp": None},
        {"day": "wed", "temp": 18.0},
    ]
    assert read(root, "sources_py.weather:indexed").column_names == ["temp", "day"]


def test_a_function_of_an_installed_package(tmp_path: Path) -> None:
    table = read(tmp_path, "pyarrow:table", {"data": {"x": [1]}})

    assert table.to_pylist() == [{"x": 1}]


def test_a_path_without_a_colon(tmp_path: Path) -> None:
    error = failure(weather(tmp_path, ROWS), "sources_py.weather.rows")

    assert error.message == (
        "source 'weather.daily': function 'sources_py.weather.rows' is not of the form "
        "'module:function'"
    )
    assert error.hint == (
        "name the module, a colon, then the function, e.g. function: sources_py.weather:fetch "
        "for fetch() in sources_py/weather.py"
    )
    assert error.node == "weather.daily"


def test_a_module_that_does_not_exist(tmp_path: Path) -> None:
    error = failure(weather(tmp_path, ROWS), "sources_py.wether:rows")

    assert error.message == (
        "source 'weather.daily': cannot import module 'sources_py.wether': no such module"
    )
    assert error.hint == (
        f"add sources_py/wether.py to the project folder {tmp_path}, install the package that "
        "provides it, or fix `function`"
    )


def test_a_module_that_imports_a_missing_package(tmp_path: Path) -> None:
    root = weather(tmp_path, "import no_such_package.api\n" + ROWS)

    error = failure(root, "sources_py.weather:rows")

    assert error.message == (
        "source 'weather.daily': module 'sources_py.weather' imports 'no_such_package', "
        "which is not installed"
    )
    assert error.hint == "install no_such_package into the environment that runs sqlml"


def test_a_module_that_fails_to_import_is_located(tmp_path: Path) -> None:
    root = weather(tmp_path, "LIMIT = 1 / 0\n" + ROWS)

    error = failure(root, "sources_py.weather:rows")

    assert error.message == (
        "source 'weather.daily': importing module 'sources_py.weather' raised "
        "ZeroDivisionError: division by zero"
    )
    assert error.location == Location("sources_py/weather.py", 4)


def test_a_module_with_a_syntax_error_is_located(tmp_path: Path) -> None:
    root = weather(tmp_path, "def rows(:\n    pass\n")

    error = failure(root, "sources_py.weather:rows")

    assert error.message.startswith(
        "source 'weather.daily': importing module 'sources_py.weather' raised SyntaxError: "
    )
    assert error.location == Location("sources_py/weather.py", 4)


def test_a_missing_function_suggests_the_closest(tmp_path: Path) -> None:
    error = failure(weather(tmp_path, ROWS), "sources_py.weather:row")

    assert error.message == (
        "source 'weather.daily': module 'sources_py.weather' has no attribute 'row'"
    )
    assert error.hint == (
        "did you mean 'rows'? define row() in sources_py/weather.py or fix `function`"
    )


def test_something_that_is_not_a_function(tmp_path: Path) -> None:
    error = failure(weather(tmp_path, "CITY = 'Paris'\n"), "sources_py.weather:CITY")

    assert (
        error.message == "source 'weather.daily': sources_py.weather:CITY is a str, not a function"
    )


def test_args_that_do_not_match_the_parameters(tmp_path: Path) -> None:
    root = weather(tmp_path, "def fetch(city, days=1):\n    return {'city': [city]}\n")

    error = failure(root, "sources_py.weather:fetch", {"town": "Lyon"})

    assert error.message == (
        "source 'weather.daily': sources_py.weather:fetch cannot be called with args "
        "{'town': 'Lyon'}: missing a required argument: 'city'"
    )
    assert (
        error.hint == "make `args` match the parameters of sources_py.weather:fetch(city, days=1)"
    )


def test_args_that_are_not_a_mapping(tmp_path: Path) -> None:
    error = failure(weather(tmp_path, ROWS), "sources_py.weather:rows", ["Lyon"])

    assert error.message == (
        "source 'weather.daily': `args` must map parameter names to values, not ['Lyon']"
    )


def test_a_function_that_raises_is_located_at_the_line_that_raised(tmp_path: Path) -> None:
    root = weather(
        tmp_path,
        "def fetch():\n    raise ConnectionError('api.example.com timed out')\n",
    )

    error = failure(root, "sources_py.weather:fetch")

    assert error.message == (
        "source 'weather.daily': function sources_py.weather:fetch raised "
        "ConnectionError: api.example.com timed out"
    )
    assert error.location == Location("sources_py/weather.py", 5)
    assert error.hint == "fix the code or what it reads; run with --debug to see the full traceback"
    assert isinstance(error.__cause__, ConnectionError)


@pytest.mark.parametrize(
    ("body", "returned", "advice"),
    [
        ("return None", "None", " (is a `return` missing?)"),
        ("return 42", "an int", ""),
        ("return ('a', 1)", "a tuple", ""),
        ("yield {'a': 1}", "a generator", " (wrap a generator in list(...))"),
    ],
)
def test_a_return_value_that_cannot_land(
    tmp_path: Path, body: str, returned: str, advice: str
) -> None:
    root = weather(tmp_path, f"def fetch():\n    {body}\n")

    error = failure(root, "sources_py.weather:fetch")

    assert error.message == (
        f"source 'weather.daily': sources_py.weather:fetch returned {returned}, "
        "which sqlml cannot land"
    )
    assert error.hint == (
        "return a pyarrow Table or RecordBatchReader, a pandas DataFrame, a list of dicts (one "
        "per row) or a dict of columns (name -> list of values)" + advice
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", "sources_py.weather:fetch returned an empty list, which has no columns to land"),
        (
            "[{'a': 1}, ('b', 2)]",
            "sources_py.weather:fetch returned a list whose item 2 is a tuple, not a dict",
        ),
        (
            "[{'a': 1}, {'a': 'x'}]",
            "what sources_py.weather:fetch returned cannot be converted to Arrow: column 'a': "
            "Could not convert 'x' with type str: tried to convert to int64",
        ),
        (
            "{'a': [1, 2], 'b': [1]}",
            "sources_py.weather:fetch returned columns of different lengths: 'a' has 2, 'b' has 1",
        ),
        (
            "{'a': 1}",
            "sources_py.weather:fetch returned a dict whose value for 'a' is an int, "
            "not a list of values",
        ),
    ],
)
def test_rows_that_do_not_make_a_table(tmp_path: Path, value: str, message: str) -> None:
    root = weather(tmp_path, f"def fetch():\n    return {value}\n")

    assert failure(root, "sources_py.weather:fetch").message == f"source 'weather.daily': {message}"


def test_a_project_leaves_no_trace_on_sys_path_or_modules_for_the_next(tmp_path: Path) -> None:
    lazy = "def rows():\n    from sources_py import helper\n\n    return helper.ROWS\n"
    first, second = (
        write_project(
            tmp_path / name,
            {
                "sources_py/__init__.py": "",
                "sources_py/weather.py": lazy,  # imports a sibling when called, not before
                "sources_py/helper.py": f"ROWS = [{{'city': '{name}'}}]\n",
            },
        )
        for name in ("paris", "oslo")
    )
    path = list(sys.path)

    from_first = read(first, "sources_py.weather:rows").to_pylist()
    after_first = (list(sys.path), "sources_py.weather" in sys.modules)
    from_second = read(second, "sources_py.weather:rows").to_pylist()

    assert from_first == [{"city": "paris"}]
    assert after_first == (path, False)
    assert from_second == [{"city": "oslo"}]
    assert sys.path == path

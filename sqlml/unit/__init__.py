"""Unit tests of models: given rows for a model's inputs, the rows it must return.

Declared under `unit_tests:` in properties files and run on in-memory DuckDB, never on the
warehouse::

    results = run_unit_tests(project, compile_project(project))
    failed = [r for r in results if r.status != "pass"]
"""

from sqlml.unit.run import run_unit_tests
from sqlml.unit.types import UnitTestResult

__all__ = ["UnitTestResult", "run_unit_tests"]

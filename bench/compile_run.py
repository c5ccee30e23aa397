"""Benchmark compile and run on synthetic projects, against DuckDB executing the same SQL.

    .venv/bin/python bench/compile_run.py                      # 100, 1,000, 10,000 models
    .venv/bin/python bench/compile_run.py --sizes 100,1000 --repeat 5 --json out.json
    .venv/bin/python bench/compile_run.py --run-sizes 100,1000,10000   # runs 10,000 too (slow)

For each size it writes a seeded synthetic project (a few root models built from `range()` and
`values`, then models that each `ref()` 1-3 of the previous ~50, long single-parent chains,
about 10% Jinja control flow or macro calls, about 5% ephemeral, the rest tables) and measures,
each in a fresh Python process:

- cold compile: no `target/` directory; `import sqlml.context` + `Context(dir).compile()`,
  so the lazily imported libraries (Jinja, sqlglot, pydantic, PyYAML) are included;
- warm compile: nothing changed since the last compile, a new process (what a second
  `sqlml compile` pays), and a new `Context` in the process that just compiled;
- run: `Context(dir).run()` on a fresh warehouse file, then again over the existing tables;
- the floor: the same final SQL (`create or replace table ... as <sql>`, topological order)
  through one DuckDB connection, on a fresh file and then again on the existing file.

`duckdb` is imported before the clock starts for both `run` and the floor: every way of
building the tables pays it, and its cost is reported on its own line. Figures are medians of
``--repeat`` samples. Nothing is asserted: the script prints figures and the targets next to
them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 42
ROOTS = 5  # source-like models at the bottom of the DAG
WINDOW = 50  # a model's parents are among the previous WINDOW models
CHAIN_START = 0.01  # chance that a fan-in model starts a long single-parent chain
CHAIN_LENGTH = (20, 60)
JINJA_SHARE = 0.10  # models rendered by Jinja: control flow or a macro call
EPHEMERAL_SHARE = 0.05

# Modules sqlml imports lazily while compiling or running; timed on their own.
LIBRARIES = ("yaml", "pydantic", "jinja2.sandbox", "sqlglot", "duckdb")


Check = Callable[[float, float | None], bool]


def _under(limit: float) -> Check:
    return lambda seconds, ratio: seconds < limit


def _within_floor(limit: float) -> Check:
    return lambda seconds, ratio: ratio is not None and ratio <= limit


# (phase, size) -> (the target as printed, its check on (seconds, ratio to the floor))
TARGETS: dict[tuple[str, int | None], tuple[str, Check]] = {
    ("cold compile", 10_000): ("< 3 s", _under(3.0)),
    ("cold compile, target just deleted", 10_000): ("< 3 s", _under(3.0)),
    ("warm compile, new process", 10_000): ("< 0.5 s", _under(0.5)),
    ("run, fresh file", 1_000): ("<= 1.5x floor", _within_floor(1.5)),
    ("run, fresh file, 1 thread", 1_000): ("<= 1.5x floor", _within_floor(1.5)),
    ("run, existing tables", 1_000): ("<= 1.5x floor", _within_floor(1.5)),
    ("sqlml --help", None): ("< 0.2 s", _under(0.2)),
}

PROJECT_YML = """\
name: bench
target: dev
targets:
  dev:
    type: duckdb
    path: warehouse.duckdb
    schema: main
vars:
  threshold: 0
models:
  +materialized: table
"""

MACROS = """\
{% macro mix(expression, factor) -%}
(({{ expression }}) * {{ factor }} + 11) % 997
{%- endmacro %}
"""


# -- the synthetic project ------------------------------------------------------------------


def generate_project(root: Path, size: int, seed: int = SEED) -> Counter[str]:
    """Write a project of ``size`` models under ``root`` (emptied first); same seed, same files.

    Returns how many models of each kind were written.
    """
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    (root / "macros").mkdir(parents=True)
    (root / "project.yml").write_text(PROJECT_YML, encoding="utf-8")
    (root / "macros" / "bench.sql").write_text(MACROS, encoding="utf-8")
    kinds: Counter[str] = Counter()
    chain_left = 0
    for i in range(size):
        if i < ROOTS:
            sql, kind = _root_sql(i, rng), "root"
        else:
            if chain_left > 0:
                chain_left -= 1
                parents = [f"m_{i - 1}"]
                kind = "chain"
            else:
                if rng.random() < CHAIN_START:
                    chain_left = rng.randint(*CHAIN_LENGTH)
                window = range(max(0, i - WINDOW), i)
                count = min(rng.choices((1, 2, 3), weights=(3, 4, 3))[0], len(window))
                parents = [f"m_{p}" for p in rng.sample(window, count)]
                kind = f"fan-in {count}"
            if rng.random() < JINJA_SHARE:
                sql = _jinja_sql(parents, rng)
                kinds["jinja"] += 1
            else:
                sql = _plain_sql(parents, rng)
            if rng.random() < EPHEMERAL_SHARE:
                sql = "{{ config(materialized='ephemeral') }}\n" + sql
                kinds["ephemeral"] += 1
        kinds[kind] += 1
        path = root / "models" / f"layer_{i // 500:02d}" / f"m_{i}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
    return kinds


def _root_sql(i: int, rng: random.Random) -> str:
    if i == 0:
        values = ",\n    ".join(
            f"({k}, {rng.randrange(997)}, {rng.randrange(1013)})" for k in range(20)
        )
        return (
            f"-- a small reference table\nselect *\nfrom (values\n    {values}\n) as t(k, v, w)\n"
        )
    rows = rng.choice((1_000, 2_000, 5_000))
    return (
        f"-- a source-like root: {rows} synthetic rows\n"
        "select\n"
        "    range as k,\n"
        f"    (range * {rng.choice((7919, 104729, 1299709))}) % 997 as v,\n"
        f"    (range * {rng.choice((31, 37, 41))} + {i}) % 1013 as w\n"
        f"from range({rows})\n"
    )


def _joins(parents: Sequence[str]) -> str:
    lines = [f"from {{{{ ref('{parents[0]}') }}}} as a"]
    lines += [
        f"left join {{{{ ref('{p}') }}}} as {alias} using (k)"
        for p, alias in zip(parents[1:], "bc", strict=False)
    ]
    return "\n".join(lines)


def _plain_sql(parents: Sequence[str], rng: random.Random) -> str:
    threshold = "{{ var('threshold') }}"
    if len(parents) == 1:
        if rng.random() < 0.6:
            return (
                "select\n"
                "    k,\n"
                f"    (v * {rng.randint(2, 50)} + 7) % 997 as v,\n"
                "    (w + k) % 1013 as w\n"
                f"from {{{{ ref('{parents[0]}') }}}}\n"
                f"where v > {threshold}\n"
            )
        return (
            "with base as (\n"
            f"    select k, v, w from {{{{ ref('{parents[0]}') }}}} where v > {threshold}\n"
            ")\n"
            f"select k, (v * {rng.randint(2, 50)}) % 997 as v, w\n"
            "from base\n"
        )
    if rng.random() < 0.7:
        others = "abc"[1 : len(parents)]
        v = " + ".join(["a.v", *(f"coalesce({o}.v, 0)" for o in others)])
        w = ", ".join(["a.w", *(f"coalesce({o}.w, 0)" for o in others)])
        return (
            "select\n"
            "    a.k,\n"
            f"    ({v}) % 997 as v,\n"
            f"    greatest({w}) as w\n"
            f"{_joins(parents)}\n"
            f"where a.v > {threshold}\n"
        )
    union = "\n    union all\n".join(
        f"    select k, v, w from {{{{ ref('{p}') }}}}" for p in parents
    )
    return f"select k, sum(v) % 997 as v, max(w) as w\nfrom (\n{union}\n) as u\ngroup by k\n"


def _jinja_sql(parents: Sequence[str], rng: random.Random) -> str:
    others = "abc"[1 : len(parents)]
    if rng.random() < 0.5:
        terms = " + ".join(["a.{{ col }}", *(f"coalesce({o}.{{{{ col }}}}, 0)" for o in others)])
        return (
            "{% set columns = ['v', 'w'] -%}\n"
            "select\n"
            "    a.k\n"
            "    {%- for col in columns %},\n"
            f"    ({terms}) % 997 as {{{{ col }}}}\n"
            "    {%- endfor %}\n"
            f"{_joins(parents)}\n"
            "{% if var('threshold') is not none -%}\n"
            "where a.v > {{ var('threshold') }}\n"
            "{%- endif %}\n"
        )
    w = "coalesce(b.w, a.w)" if others else "a.w + a.k"
    return (
        "select\n"
        "    a.k,\n"
        f"    {{{{ mix('a.v', {rng.randint(2, 50)}) }}}} as v,\n"
        f"    {{{{ mix('{w}', 3) }}}} as w\n"
        f"{_joins(parents)}\n"
        "where a.v > {{ var('threshold') }}\n"
    )


# -- measurements, each in a fresh process --------------------------------------------------


class _Clock:
    """A run listener noting when execution starts and when the last node finishes."""

    def __init__(self) -> None:
        self.planned_at = 0.0
        self.finished_at = 0.0

    def planned(self, plan: Any) -> None:
        self.planned_at = time.perf_counter()

    def started(self, step: Any) -> None:
        pass

    def finished(self, step: Any, result: Any) -> None:
        self.finished_at = time.perf_counter()


def _check_compiled(compiled: Any) -> None:
    if compiled.errors:
        name, error = next(iter(compiled.errors.items()))
        raise SystemExit(f"{len(compiled.errors)} nodes failed to compile; {name}: {error}")


def work_compile(project: str, *, expect_cached: bool) -> dict[str, Any]:
    """Import sqlml and compile, in this (fresh) process; then compile again with a new Context."""
    start = time.perf_counter()
    from sqlml.context import Context

    imported = time.perf_counter()
    before = set(sys.modules)
    context = Context(project)
    context.project  # noqa: B018  (loaded on first use; timed on its own)
    loaded = time.perf_counter()
    compiled = context.compile()
    done = time.perf_counter()
    _check_compiled(compiled)
    if expect_cached and (compiled.rendered or compiled.parsed):
        raise SystemExit(f"warm compile rendered {compiled.rendered}, parsed {compiled.parsed}")
    again = Context(project).compile()
    warm_done = time.perf_counter()
    if again.rendered or again.parsed:
        raise SystemExit(f"warm compile rendered {again.rendered}, parsed {again.parsed}")
    return {
        "seconds": done - start,
        "import_sqlml_s": imported - start,
        "load_project_s": loaded - imported,
        "compile_s": done - imported,
        "warm_same_process_s": warm_done - done,
        "rendered": compiled.rendered,
        "parsed": compiled.parsed,
        "nodes": len(compiled.nodes),
        "libraries_imported": sorted(m for m in LIBRARIES if m in sys.modules and m not in before),
    }


def work_run(project: str, *, threads: int | None) -> dict[str, Any]:
    """`Context(project).run()`; the warehouse file is fresh or not as the caller left it."""
    import duckdb  # noqa: F401  (the floor pays it too, before its clock starts)

    start = time.perf_counter()
    from sqlml.context import Context

    clock = _Clock()
    result = Context(project, listener=clock).run(threads=threads)
    done = time.perf_counter()
    if not result.success:
        failed = next(r for r in result.results if r.status != "success")
        raise SystemExit(f"run failed: {failed.node}: {failed.message}")
    return {
        "seconds": done - start,
        "before_first_step_s": clock.planned_at - start,
        "executing_s": clock.finished_at - clock.planned_at,
        "after_last_step_s": done - clock.finished_at,
        "steps": len(result.results),
    }


def work_statements(project: str, out: str) -> dict[str, Any]:
    """Write the final SQL of every table, in topological order, as CREATE statements."""
    from sqlml.context import Context

    context = Context(project)
    compiled = context.compile()
    _check_compiled(compiled)
    statements = [
        f"create or replace table {node.relation} as\n{node.sql}"
        for node in (compiled.nodes[n] for n in context.dag(compiled).order)
        if node.kind == "model" and node.config.materialized != "ephemeral"
    ]
    Path(out).write_text(json.dumps(statements), encoding="utf-8")
    # Relations name their catalog, which DuckDB takes from the file name: the floor's file
    # must be named like the warehouse.
    return {"statements": len(statements), "file_name": context.project.target.path.name}


def work_floor(statements_file: str, database: str) -> dict[str, Any]:
    """The floor: every statement through one DuckDB connection, nothing else."""
    import duckdb

    statements = json.loads(Path(statements_file).read_text(encoding="utf-8"))
    start = time.perf_counter()
    connection = duckdb.connect(database)
    for statement in statements:
        connection.execute(statement)
    connection.close()
    return {"seconds": time.perf_counter() - start, "steps": len(statements)}


def work_imports() -> dict[str, Any]:
    """Import time of sqlml.context, then of each library sqlml imports lazily, in order."""
    out: dict[str, Any] = {}
    for module in ("sqlml.context", *LIBRARIES):
        start = time.perf_counter()
        __import__(module)
        out[module] = time.perf_counter() - start
    return out


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "compile": work_compile,
    "run": work_run,
    "statements": work_statements,
    "floor": work_floor,
    "imports": work_imports,
}


def _set_aside(folder: Path, trash: Path) -> None:
    """Move ``folder`` into ``trash`` (deleted when the benchmark ends), so the next
    measurement starts without it and does not pay for deleting it: on a file system
    without a journal, ext4 creates files slowly for a minute after many were deleted
    nearby (it skips recently freed inodes one by one)."""
    if folder.exists():
        trash.mkdir(parents=True, exist_ok=True)
        folder.rename(trash / f"{folder.parent.name}_{time.time_ns()}")


def _remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


# -- the report -----------------------------------------------------------------------------


class Report:
    """Rows of figures, printed as they come and kept for ``--json``."""

    HEADER = (
        f"{'models':>7}  {'phase':<36}{'seconds':>9}{'ms/model':>10}"
        f"{'floor s':>9}{'x floor':>9}  target"
    )

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        phase: str,
        samples: Sequence[float],
        *,
        size: int | None = None,
        floor: float | None = None,
        **details: Any,
    ) -> dict[str, Any]:
        seconds = statistics.median(samples)
        ratio = seconds / floor if floor else None
        target = TARGETS.get((phase, size))
        row = {
            "size": size,
            "phase": phase,
            "seconds": seconds,
            "samples": list(samples),
            "per_model_ms": 1000 * seconds / size if size else None,
            "floor_s": floor,
            "ratio_to_floor": ratio,
            "target": target[0] if target else None,
            "meets_target": target[1](seconds, ratio) if target else None,
            **details,
        }
        self.rows.append(row)
        print(self.format(row), flush=True)
        return row

    @staticmethod
    def format(row: dict[str, Any]) -> str:
        size = f"{row['size']:,}" if row["size"] else ""
        per_model = f"{row['per_model_ms']:.3f}" if row["per_model_ms"] is not None else ""
        floor = f"{row['floor_s']:.3f}" if row["floor_s"] is not None else ""
        ratio = f"{row['ratio_to_floor']:.2f}x" if row["ratio_to_floor"] is not None else ""
        target = ""
        if row["target"]:
            target = f"{row['target']}: {'met' if row['meets_target'] else 'MISSED'}"
        return (
            f"{size:>7}  {row['phase']:<36}{row['seconds']:>9.3f}{per_model:>10}"
            f"{floor:>9}{ratio:>9}  {target}"
        )


@dataclass
class Bench:
    """Options of one benchmark run, and how it starts its measuring processes."""

    report: Report
    workdir: Path
    repeat: int
    threads: int | None
    seed: int
    env: dict[str, str]

    def spawn(self, work: str, **kwargs: Any) -> dict[str, Any]:
        """Run one measurement in a fresh Python process and return what it reported."""
        done = subprocess.run(
            [sys.executable, __file__, "--worker", work, json.dumps(kwargs)],
            capture_output=True,
            text=True,
            check=False,
            env=self.env,
        )
        if done.returncode != 0:
            raise SystemExit(f"worker '{work}' failed:\n{done.stderr or done.stdout}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    def wall_time(self, command: Sequence[str]) -> float:
        """Seconds a command takes from start to exit, interpreter start-up included."""
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=self.env)
        return time.perf_counter() - start

    def warm_up(self) -> None:
        """Import, compile and run a small project once, so bytecode caches are written."""
        project = self.workdir / "project_warm_up"
        generate_project(project, 60, self.seed)
        self.spawn("imports")
        self.spawn("compile", project=str(project), expect_cached=False)
        self.spawn("run", project=str(project), threads=self.threads)
        self.wall_time([_sqlml_command(), "--help"])

    def process(self) -> None:
        """Start-up costs: the interpreter, `import sqlml`, `sqlml --help`, library imports."""
        python, add = sys.executable, self.report.add
        times = max(5, self.repeat)
        add("python -c pass", [self.wall_time([python, "-c", "pass"]) for _ in range(times)])
        add(
            "python -c 'import sqlml'",
            [self.wall_time([python, "-c", "import sqlml"]) for _ in range(times)],
        )
        add("sqlml --help", [self.wall_time([_sqlml_command(), "--help"]) for _ in range(times)])
        imports = [self.spawn("imports") for _ in range(self.repeat)]
        for module in imports[0]:
            add(f"import {module} (in process)", [i[module] for i in imports])

    def size(self, size: int, *, run: bool) -> None:
        """Compile (and, if ``run``, run and floor) a synthetic project of ``size`` models."""
        add = self.report.add
        project = self.workdir / f"project_{size}"
        kinds = generate_project(project, size, self.seed)
        shown = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        print(f"{'':>7}  ({size:,} models: {shown})", flush=True)

        cold = []
        for _ in range(self.repeat):
            _set_aside(project / "target", self.workdir / "trash")
            cold.append(self.spawn("compile", project=str(project), expect_cached=False))
        add(
            "cold compile",
            [c["seconds"] for c in cold],
            size=size,
            libraries_imported=cold[0]["libraries_imported"],
        )
        add("  of which import sqlml", [c["import_sqlml_s"] for c in cold], size=size)
        add("  of which load project", [c["load_project_s"] for c in cold], size=size)
        warm = [
            self.spawn("compile", project=str(project), expect_cached=True)
            for _ in range(self.repeat)
        ]
        add("warm compile, new process", [w["seconds"] for w in warm], size=size)
        add("  of which import sqlml", [w["import_sqlml_s"] for w in warm], size=size)
        add(
            "warm compile, same process",
            [c["warm_same_process_s"] for c in [*cold, *warm]],
            size=size,
        )
        # A cold compile right after `rm -rf target`, as a user might run it: on this kind of
        # file system it pays for the deletion while creating the compiled files (see above).
        deleted = []
        for _ in range(self.repeat):
            _remove(project / "target")
            deleted.append(self.spawn("compile", project=str(project), expect_cached=False))
        add("cold compile, target just deleted", [c["seconds"] for c in deleted], size=size)
        if run:
            self.run(project, size)

    def run(self, project: Path, size: int) -> None:
        """`run` on a fresh and on an existing warehouse, each against its floor."""
        add = self.report.add
        statements = self.workdir / f"statements_{size}.json"
        written = self.spawn("statements", project=str(project), out=str(statements))
        tables = written["statements"]
        warehouse = project / written["file_name"]
        floor_db = self.workdir / f"floor_{size}" / written["file_name"]
        floor_db.parent.mkdir(exist_ok=True)
        # sqlml runs nodes in parallel while the floor is one connection; a one-thread run as
        # well shows sqlml's own overhead apart from what parallelism wins back.
        one_thread_too = (self.threads or os.cpu_count() or 1) > 1
        fresh: list[dict[str, Any]] = []
        single: list[dict[str, Any]] = []
        again: list[dict[str, Any]] = []
        floor_fresh: list[dict[str, Any]] = []
        floor_again: list[dict[str, Any]] = []
        for _ in range(self.repeat):  # interleaved, so drift in the machine hits all alike
            _remove(warehouse, Path(f"{warehouse}.wal"))
            fresh.append(self.spawn("run", project=str(project), threads=self.threads))
            again.append(self.spawn("run", project=str(project), threads=self.threads))
            if one_thread_too:
                _remove(warehouse, Path(f"{warehouse}.wal"))
                single.append(self.spawn("run", project=str(project), threads=1))
            _remove(floor_db, Path(f"{floor_db}.wal"))
            for samples in (floor_fresh, floor_again):
                samples.append(
                    self.spawn("floor", statements_file=str(statements), database=str(floor_db))
                )
        floor = add("floor, fresh file", [f["seconds"] for f in floor_fresh], size=size)
        floor_existing = add(
            "floor, existing tables", [f["seconds"] for f in floor_again], size=size
        )
        runs = [
            ("run, fresh file", fresh, floor),
            ("run, existing tables", again, floor_existing),
        ]
        if one_thread_too:
            runs.insert(1, ("run, fresh file, 1 thread", single, floor))
        for phase, samples, against in runs:
            add(
                phase,
                [r["seconds"] for r in samples],
                size=size,
                floor=against["seconds"],
                tables=tables,
            )
            for part in ("before_first_step_s", "executing_s", "after_last_step_s"):
                label = "  " + part.removesuffix("_s").replace("_", " ")
                add(label, [r[part] for r in samples], size=size)


def _sqlml_command() -> str:
    script = Path(sys.executable).with_name("sqlml")
    return str(script) if script.exists() else shutil.which("sqlml") or "sqlml"


def _child_env(workdir: Path, *, as_is: bool) -> dict[str, str]:
    """The environment of measuring processes: this one's, with bytecode caching on.

    Without it (PYTHONDONTWRITEBYTECODE set, as in some sandboxes and containers) every process
    compiles sqlml's source again, which no installed copy pays. The cache goes under the work
    directory, so the source tree is left alone.
    """
    env = dict(os.environ)
    if not as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="models per project to compile")
    parser.add_argument(
        "--run-sizes",
        default="100,1000",
        help="sizes also run (and floored); add 10000 for the slow one",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"threads for run (default: sqlml's own default, the CPU count: {os.cpu_count()})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="samples per figure (median)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the synthetic projects")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--workdir", type=Path, help="write the projects here and keep them (default: a temp dir)"
    )
    parser.add_argument(
        "--env-as-is",
        action="store_true",
        help="start measuring processes with this environment unchanged (by default they "
        "cache bytecode, as an installed copy does, even if PYTHONDONTWRITEBYTECODE is set)",
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:  # one measurement, in a fresh process started by `spawn`
        work, kwargs = args.worker
        print(json.dumps(WORKERS[work](**json.loads(kwargs))))
        return

    sizes = [int(s) for s in args.sizes.split(",") if s]
    run_sizes = {int(s) for s in args.run_sizes.split(",") if s}
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="sqlml-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    environment = _environment(args.threads, bytecode_cache=not args.env_as_is)
    print(", ".join(f"{k} {v}" for k, v in environment.items()))
    bench = Bench(
        Report(),
        workdir,
        args.repeat,
        args.threads,
        args.seed,
        _child_env(workdir, as_is=args.env_as_is),
    )
    try:
        bench.warm_up()
        print(Report.HEADER)
        bench.process()
        for size in sorted(set(sizes) | run_sizes):
            bench.size(size, run=size in run_sizes)
    finally:
        shutil.rmtree(workdir / "trash", ignore_errors=True)
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        document = {"environment": environment, "results": bench.report.rows}
        args.json.write_text(json.dumps(document, indent=1), encoding="utf-8")


def _environment(threads: int | None, *, bytecode_cache: bool) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "run threads": threads or f"default ({os.cpu_count()})",
        **{name: installed(name) for name in ("sqlml", "duckdb", "sqlglot", "sqlglotc", "jinja2")},
        "bytecode cache": "on" if bytecode_cache else "as the environment says",
    }


if __name__ == "__main__":
    main()

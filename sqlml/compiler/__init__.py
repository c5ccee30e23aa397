"""Stage 2: a `Project` → compiled nodes: rendered SQL, dependencies, columns, fingerprints."""

from sqlml.compiler.compile import compile_project
from sqlml.compiler.types import CompiledNode, CompiledProject, Relation

__all__ = ["CompiledNode", "CompiledProject", "Relation", "compile_project"]

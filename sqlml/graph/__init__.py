"""Stage 3: compiled nodes → a DAG, and selection of nodes in it."""

from sqlml.graph.dag import DAG, build_dag
from sqlml.graph.selection import Selector, parse_selector, select_nodes

__all__ = ["DAG", "Selector", "build_dag", "parse_selector", "select_nodes"]

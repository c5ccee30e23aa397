"""Exports: nodes that deliver a table (or its changed rows) to files or an HTTP endpoint."""

"""The command-line interface: a thin layer over `sqlml.Context`."""

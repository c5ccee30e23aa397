"""The real-time endpoint, `sqlml serve`: champions answer JSON requests over HTTP."""

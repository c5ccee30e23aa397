"""A content-addressed cache of renders and parses, kept in the target directory.

A render is reused when the template's bytes, the project environment (project.yml, properties,
macros, vars, target) and the environment variables it read are all unchanged. A parse is keyed
by the rendered SQL alone.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlml.compiler.types import Parsed, Rendered
from sqlml.project.inventory import paused_gc

_FORMAT = 2  # 2: renders carry the is_incremental() variant


@dataclass
class CompileCache:
    environment: str
    renders: dict[str, tuple[str, Rendered]] = field(default_factory=dict)
    parses: dict[str, Parsed] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)  # compiled path -> sha of contents
    dirty: bool = False

    def render(self, path: str, digest: str) -> Rendered | None:
        hit = self.renders.get(path)
        if hit is None or hit[0] != digest:
            return None
        rendered = hit[1]
        if any(os.environ.get(k) != v for k, v in rendered.env_vars.items()):
            return None
        return rendered

    def store_render(self, path: str, digest: str, rendered: Rendered) -> None:
        self.renders[path] = (digest, rendered)
        self.dirty = True

    def store_parse(self, digest: str, parsed: Parsed) -> None:
        self.parses[digest] = parsed
        self.dirty = True


def load_cache(path: Path, environment: str) -> CompileCache:
    """Read the cache; anything unreadable or from another environment starts empty."""
    try:
        with path.open("rb") as handle, paused_gc():
            data = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return CompileCache(environment)
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return CompileCache(environment)
    renders = data["renders"] if data.get("environment") == environment else {}
    return CompileCache(environment, renders, data["parses"], data.get("written", {}))


def save_cache(cache: CompileCache, path: Path, keep: set[str]) -> None:
    """Write the cache atomically, keeping only entries still in use."""
    if not cache.dirty:
        return
    data = {
        "format": _FORMAT,
        "environment": cache.environment,
        "renders": cache.renders,
        "parses": {k: v for k, v in cache.parses.items() if k in keep},
        "written": cache.written,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def forget_written(path: Path, keys: Iterable[str]) -> None:
    """Drop what the cache knows of some compiled files (rewritten by a compile that did not
    use the cache), so the next compile writes them again; renders and parses are kept."""
    try:
        with path.open("rb") as handle:
            data = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return
    written = data.get("written", {})
    for key in keys:
        written.pop(key, None)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)

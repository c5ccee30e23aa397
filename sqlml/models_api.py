"""The model registry part of the Python API (`sqlml.Context` inherits it): list and show
registered models, move a champion, load a version, print a version as SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlml.engine import Engine
from sqlml.ml import registry

if TYPE_CHECKING:
    from sqlml.ml.promotion import LoadedModel
    from sqlml.ml.registry import AliasChange, ModelDetail, ModelSummary
    from sqlml.warehouse import Warehouse


class ModelsAPI:
    """Registry methods over the `warehouse` the class they are mixed into provides."""

    if TYPE_CHECKING:

        @property
        def warehouse(self) -> Warehouse: ...

    def models(self) -> list[ModelSummary]:
        """Every model in the registry: latest version, number of versions, aliases."""
        return self.warehouse.run(registry.list_models)

    def model(self, name: str) -> ModelDetail:
        """One registered model: its versions (metrics, parity, fingerprints), aliases and
        alias history."""
        return self.warehouse.run(lambda engine, schema: registry.show_model(engine, schema, name))

    def promote(self, name: str, version: int, *, reason: str | None = None) -> AliasChange:
        """Make ``version`` of model ``name`` its champion, recorded in the alias history."""
        why = reason or f"promoted by hand to version {version}"
        return self.warehouse.run(
            lambda engine, schema: registry.promote(engine, schema, name, version, reason=why),
            write=True,
        )

    def rollback(self, name: str) -> AliasChange:
        """Point model ``name``'s champion back where it pointed before its last move."""
        return self.warehouse.run(
            lambda engine, schema: registry.rollback(engine, schema, name), write=True
        )

    def load_model(self, name: str, version: int | str = "champion") -> LoadedModel:
        """A registered version (a number or an alias) with its ONNX bytes, sha256 verified,
        and its feature columns; raises ScoringError when it does not exist or was tampered."""
        from sqlml.ml.promotion import LoadedModel

        def load(engine: Engine, schema: str) -> LoadedModel:
            return LoadedModel.load(engine, schema, name, version)

        return self.warehouse.run(load)

    def model_sql(
        self,
        name: str,
        version: int | str = "champion",
        source: str = "input_rows",
        keep: Sequence[str] = (),
        dialect: str = "duckdb",
        *,
        pretty: bool = False,
    ) -> str:
        """A registered version of model ``name`` compiled to one SELECT scoring ``source``
        (a relation or a parenthesised query) in ``dialect``; raises ScoringError for models
        the SQL compiler does not translate (see `sqlml.ml.sqlmodel`)."""
        from sqlml.ml.sqlmodel import compile_model

        loaded = self.load_model(name, version)
        return compile_model(loaded.onnx, name).sql(source, keep, dialect, pretty)

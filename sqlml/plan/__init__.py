"""Stage 4: what a run will do, as inert data."""

from sqlml.plan.make import make_plan
from sqlml.plan.types import Plan, Step, WarehouseState

__all__ = ["Plan", "Step", "WarehouseState", "make_plan"]

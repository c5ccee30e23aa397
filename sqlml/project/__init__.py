"""Stage 1: files on disk → a validated `Project`."""

from sqlml.project.loader import load_project
from sqlml.project.types import Column, MacroFile, ModelSource, NodeConfig, Project, Target

__all__ = ["Column", "MacroFile", "ModelSource", "NodeConfig", "Project", "Target", "load_project"]

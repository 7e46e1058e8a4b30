"""The framework-free heart of nndoctor: Finding, Report, Rule, registry, engine, config.

Nothing here imports torch, numpy or any other heavy package, so rules can be judged
and tested from plain Python numbers.
"""
from nndoctor.core.errors import UsageError
from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.report import Report, SkippedCheck
from nndoctor.core.rule import Measurements, Rule
from nndoctor.core.registry import Registry, default_registry, register

__all__ = [
    "SEVERITIES", "Finding", "Measurements", "Registry", "Report", "Rule", "SkippedCheck",
    "UsageError", "default_registry", "register",
]

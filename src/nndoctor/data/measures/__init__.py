"""Measurements of the data audit, one module per family of checks.

Every module here exposes `measure(data: AuditData, m: Measurements, options: AuditOptions)`
and is discovered by `nndoctor.data.audit` with pkgutil (there is no central list).
"""

"""Data audit: dataset views, loaders and the measurements behind `nndoctor audit`.

Everything heavy (pandas, scikit-learn, faiss, datasketch, cleanlab) is imported lazily
inside the functions that need it, so importing this package stays cheap.
"""
from nndoctor.data.view import AuditData, AuditOptions, Split

__all__ = ["AuditData", "AuditOptions", "Split"]

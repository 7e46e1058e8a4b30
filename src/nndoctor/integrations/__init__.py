"""Explicit hooks for training frameworks, for those who prefer code over `nndoctor run`:

    from nndoctor.integrations.lightning import NNDoctorCallback      # Lightning
    from nndoctor.integrations.transformers import NNDoctorCallback   # Hugging Face Trainer

Each callback watches the run exactly as `nndoctor run` would (same findings, same
report) and keeps the final report in `callback.report`. Under `nndoctor run` it joins
the run's session instead of starting a second one.
"""

"""Rules of `nndoctor evaluate`: judge the measurements of nndoctor.evaluation."""

"""Rules judging the tuning measurements of `nndoctor tune` (learning rate, batch size, weight decay)."""

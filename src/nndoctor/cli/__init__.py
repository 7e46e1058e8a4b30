"""The `nndoctor` command line. One module per command; `app.py` assembles them."""

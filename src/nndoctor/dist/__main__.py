"""`python -m nndoctor.dist SCRIPT [ARGS]`: the worker entrypoint (see nndoctor.dist.worker)."""
import sys

from nndoctor.dist.worker import main

sys.exit(main())

"""A distributed script whose rank 1 exits with code 3 (for the exit-code test)."""
import os
import sys

if os.environ.get("RANK") == "1":
    print("rank 1 gives up", file=sys.stderr)
    sys.exit(3)
print("rank 0 done")

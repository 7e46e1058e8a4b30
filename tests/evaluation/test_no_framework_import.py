"""nndoctor.evaluate is framework-neutral: a full evaluation never imports torch."""
import subprocess
import sys

SCRIPT = """
import sys, numpy as np, nndoctor
rng = np.random.default_rng(0)
y = rng.integers(0, 3, 500); p = rng.dirichlet(np.ones(3), 500)
nndoctor.evaluate(y, p.argmax(1), probabilities=p, slices={"site": rng.choice(list("ab"), 500)})
print("torch" in sys.modules)
"""


def test_evaluate_does_not_import_torch():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"

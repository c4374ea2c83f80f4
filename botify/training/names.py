"""Constants shared by the training commands (kept free of heavy imports for the CLI).

The models' names are the registry's (``botify.registry.MODELS``).
"""

EVALUATION_FILE = "evaluation.json"

# One thread by default: on a 2-core machine busy with other work, PyTorch's two threads wait on
# each other for a core and trained 2.6x slower (bench/bench_train.py); --threads raises it.
TORCH_THREADS = 1

# The baselines `botify evaluate --leaderboard` trains when --models is not given: the fast
# per-user models.
LEADERBOARD_BASELINES = ("als", "user_cf")

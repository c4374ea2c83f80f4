"""Names shared by the training commands (kept free of heavy imports for the CLI)."""

TOP_TRACKS = "top_tracks"
I2I_COOC = "i2i_cooc"
RANKER = "ranker"
MULTIDAE = "multidae"
ALS = "als"
# The standard artifacts of ``botify train``, written as ``OUT/<name>.jsonl``.
MODELS = (TOP_TRACKS, I2I_COOC, RANKER, MULTIDAE, ALS)
RANKER_VARIANTS = ("dot", "cosine")
EVALUATION_FILE = "evaluation.json"

# One thread by default: on a 2-core machine busy with other work, PyTorch's two threads wait on
# each other for a core and trained 2.6x slower (bench/bench_train.py); --threads raises it.
TORCH_THREADS = 1

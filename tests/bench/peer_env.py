"""tests/bench/peer_env.py: the --threads value of a peer benchmark's command line, read
before argparse runs. The peers' thread settings must be in the environment before numpy,
torch or mxnet is imported (their OpenMP and OpenBLAS pools read it when they load), so this
module imports nothing else."""

import sys


def argv_threads(default="2"):
    """The value of --threads N or --threads=N in sys.argv, or default."""
    threads = default
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            threads = sys.argv[i + 1]
        elif a.startswith("--threads="):
            threads = a.split("=", 1)[1]
    return threads

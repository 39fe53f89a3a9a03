"""Helpers shared by the Python of the Node benchmarks (probe.sh, sampler.sh, snapshot.sh,
side-by-side.sh); node-common.sh puts this directory on PYTHONPATH."""
import random
import signal
import socket
import statistics
import sys
import time

# Processes started by a benchmark, killed if it is interrupted.
children = []


def kill_children_on_signal():
    def cleanup(*_):
        for child in children:
            if child.poll() is None:
                child.kill()
        sys.exit(130)

    signal.signal(signal.SIGINT, cleanup)
    signal.signal(signal.SIGTERM, cleanup)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, who):
    """Waits (up to 10 s) until 127.0.0.1:port accepts connections; `who` names the script."""
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{who}: the server did not listen on port {port}")


def bootstrap(values, rounds=2000):
    """95 % bootstrap interval of the median of `values`."""
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds) - 1]

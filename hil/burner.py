"""A small compute load for real-payload mode (`python -m hil.burner --seconds S`): matrix multiplications for
S seconds, on the GPU when CuPy is installed (a Jetson with CUDA), else on the CPU with NumPy. It stops early
on SIGTERM (the job ended or was preempted)."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from types import FrameType
from typing import Any


def _array_module(gpu: bool) -> Any:
    if gpu:
        try:
            return importlib.import_module("cupy")
        except ImportError:
            pass
    return importlib.import_module("numpy")


def burn(seconds: float, size: int = 256, gpu: bool = True) -> int:
    """Multiply size x size matrices until `seconds` have passed; returns the multiplications done."""
    xp = _array_module(gpu)
    a = xp.random.default_rng(1).random((size, size), dtype=xp.float32)
    b = a.T.copy()
    done = 0
    stop = [False]

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    t_end = time.monotonic() + seconds
    while not stop[0] and time.monotonic() < t_end:
        a = (a @ b) * (1.0 / size)
        done += 1
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hil.burner", description=__doc__)
    p.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    p.add_argument("--size", type=int, default=256, help="matrix size (default 256)")
    p.add_argument("--cpu", action="store_true", help="do not use the GPU even when CuPy is installed")
    args = p.parse_args(argv)
    if args.seconds < 0 or args.size <= 0:
        p.error("--seconds must be >= 0 and --size > 0")
    burn(args.seconds, args.size, gpu=not args.cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Screening benchmark: end-to-end `eligc run` against a parse-only floor, measured in the
same run on the same file (see docs/performance.md).

    python3 benches/screening.py [SIZES...]      # default: 100000 1000000

For each size it generates deterministic synthetic patients (benches/gen_patients.rs) once,
then runs, each REPEAT times, alternating so that machine noise falls on all alike:
  floor     eligc run --parse-only --jobs 1   (read + deserialise + validate, no evaluation)
  run-1     eligc run --jobs 1                (end to end, one thread)
  run-all   eligc run                         (end to end, all cores)
and prints median wall time, patients/s, peak RSS and the ratios the targets are about.
"""
import os
import statistics
import subprocess
import sys
import time

REPEAT = 3
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "target", "bench-data")
PROTOCOL = os.path.join(ROOT, "protocols", "sle-car-t", "protocol.elig")
ELIGC = os.path.join(ROOT, "target", "release", "eligc")
GEN = os.path.join(ROOT, "target", "release", "gen_patients")


def measure(args):
    """Wall seconds and peak RSS (MB) of one run, output discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(args, stdout=devnull, stderr=devnull)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(args)}")
    return wall, usage.ru_maxrss / 1024


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [100_000, 1_000_000]
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "eligc", "--bin", "gen_patients"], cwd=ROOT, check=True)
    os.makedirs(DATA, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; median of {REPEAT} runs each")
    print(f"{'patients':>9} {'MB':>6} {'config':<8} {'median s':>9} {'patients/s':>11} {'peak RSS MB':>12}")
    for n in sizes:
        path = os.path.join(DATA, f"patients-{n}.jsonl")
        if not os.path.exists(path):
            with open(path, "wb") as out:
                subprocess.run([GEN, str(n)], stdout=out, check=True)
        size_mb = os.path.getsize(path) / 1e6
        configs = {
            "floor": [ELIGC, "run", PROTOCOL, path, "--parse-only", "--jobs", "1"],
            "run-1": [ELIGC, "run", PROTOCOL, path, "--jobs", "1"],
            "run-all": [ELIGC, "run", PROTOCOL, path],
        }
        results = {name: [] for name in configs}
        for _ in range(REPEAT):
            for name, args in configs.items():
                results[name].append(measure(args))
        medians = {}
        for name, runs in results.items():
            wall = statistics.median(w for w, _ in runs)
            rss = max(r for _, r in runs)
            medians[name] = wall
            print(f"{n:>9} {size_mb:>6.0f} {name:<8} {wall:>9.2f} {n / wall:>11,.0f} {rss:>12.1f}")
        print(f"{n:>9}        run-1 / floor   = {medians['run-1'] / medians['floor']:.2f}  (target <= 1.5)")
        print(f"{n:>9}        run-all / floor = {medians['run-all'] / medians['floor']:.2f}  (target < 1.0)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Screening benchmark: `eligc run` against a hand-written Rust program (benches/baseline.rs)
measured in the same run on the same file (see docs/performance.md).

    python3 benches/screening.py [SIZES...] [--repeat N] [--reference BIN]
    python3 benches/screening.py                   # 100,000 patients
    python3 benches/screening.py 100000 1000000    # and 1M (3.6 GB of data, about 6 minutes)

For each size it generates deterministic synthetic patients (benches/gen_patients.rs) once,
then checks that the baseline and eligc agree (the baseline writes the same CSV as
`eligc run --format csv`: the files are compared byte for byte and both counts printed; a
mismatch is reported and makes the exit status 1), then runs, each REPEAT times (default 3),
alternating so that machine noise falls on all alike:
  baseline    benches/baseline.rs: typed serde, borrowed strings, the criteria by hand, 1 thread
  run-all     eligc run                           (end to end, all cores)
  run-1       eligc run --jobs 1                  (end to end, one worker thread)
  parse-only  eligc run --parse-only --jobs 1     (read + deserialise + validate, no evaluation)
and prints median wall time, patients/s, MB/s, peak RSS (`/usr/bin/time`'s %M), the
ratios to the baseline measured in the same run, and the CPU time (user + system, all
threads) with its ratio: on a loaded machine wall times stretch, CPU time much less.

With --reference BIN (another eligc binary, e.g. main's before a change), the table, CSV and
JSON outputs of both binaries on the same data are compared byte for byte first (JSON on the
first 2,000 patients: it explains every check).
"""
import filecmp
import hashlib
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "target", "bench-data")
PROTOCOL = os.path.join(ROOT, "protocols", "sle-car-t", "protocol.elig")
RELEASE = os.path.join(ROOT, "target", "release")
ELIGC = os.path.join(RELEASE, "eligc")
BASELINE = os.path.join(RELEASE, "baseline")
GEN = os.path.join(RELEASE, "gen_patients")


def measure(args):
    """Wall seconds and peak RSS (MB) of one run, output discarded."""
    # Through /usr/bin/time: a child forked from this script counts the script's own memory
    # in its peak RSS (ru_maxrss survives exec), which hid anything under about 20 MB.
    rss_file = os.path.join(DATA, "rss.txt")
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file, *args], stdout=devnull, stderr=devnull, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}")
    with open(rss_file) as f:
        kb, user, system = f.read().split()[-3:]
    return wall, int(kb) / 1024, float(user) + float(system)


def output(args, path):
    """Runs `args` with stdout to `path`; returns the last line of stderr (the counts)."""
    with open(path, "wb") as out:
        done = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, check=False)
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"(no summary; exit {done.returncode})"


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def check_baseline(n, path):
    """The baseline's verdicts against eligc's: same CSV, same counts. True when they agree."""
    base_csv = os.path.join(DATA, f"verdicts-{n}-baseline.csv")
    eligc_csv = os.path.join(DATA, f"verdicts-{n}-eligc.csv")
    base_counts = output([BASELINE, path], base_csv)
    eligc_counts = output([ELIGC, "run", PROTOCOL, path, "--format", "csv"], eligc_csv)
    print(f"  baseline: {base_counts}")
    print(f"  eligc:    {eligc_counts}")
    same = filecmp.cmp(base_csv, eligc_csv, shallow=False)
    if same and base_counts == eligc_counts:
        print(f"  verdicts identical (sha256 {digest(eligc_csv)})")
    else:
        print(f"  MISMATCH between the baseline and eligc: compare {base_csv} {eligc_csv}")
    for f in (base_csv, eligc_csv):
        os.remove(f)
    return same and base_counts == eligc_counts


def check_reference(reference, n, path):
    """eligc's outputs against another binary's: True when identical."""
    ok = True
    head = os.path.join(DATA, f"patients-{n}-head.jsonl")
    with open(path, "rb") as src, open(head, "wb") as dst:
        for i, line in enumerate(src):
            if i == 2000:
                break
            dst.write(line)
    for fmt, data in (("table", path), ("csv", path), ("json", head)):
        mine = os.path.join(DATA, f"out-{fmt}-new")
        theirs = os.path.join(DATA, f"out-{fmt}-reference")
        output([ELIGC, "run", PROTOCOL, data, "--format", fmt, "--summary"], mine)
        output([reference, "run", PROTOCOL, data, "--format", fmt, "--summary"], theirs)
        same = filecmp.cmp(mine, theirs, shallow=False)
        print(f"  --format {fmt}: {'identical to the reference' if same else 'DIFFERS from the reference'}")
        ok &= same
        if same:
            os.remove(mine)
            os.remove(theirs)
    os.remove(head)
    return ok


def main():
    args = sys.argv[1:]
    repeat = 3
    reference = None
    sizes = []
    while args:
        a = args.pop(0)
        if a == "--repeat":
            repeat = int(args.pop(0))
        elif a == "--reference":
            reference = os.path.abspath(args.pop(0))
        else:
            sizes.append(int(a))
    sizes = sizes or [100_000]
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "eligc", "--bin", "gen_patients", "--bin", "baseline"],
        cwd=ROOT,
        check=True,
    )
    os.makedirs(DATA, exist_ok=True)
    agree = True
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; median of {repeat} runs each, alternating")
    for n in sizes:
        path = os.path.join(DATA, f"patients-{n}.jsonl")
        if not os.path.exists(path):
            with open(path, "wb") as out:
                subprocess.run([GEN, str(n)], stdout=out, check=True)
        size_mb = os.path.getsize(path) / 1e6
        print(f"\n{n:,} patients, {size_mb:.0f} MB: {path}")
        agree &= check_baseline(n, path)
        if reference:
            agree &= check_reference(reference, n, path)
        configs = {
            "baseline": [BASELINE, path],
            "run-all": [ELIGC, "run", PROTOCOL, path],
            "run-1": [ELIGC, "run", PROTOCOL, path, "--jobs", "1"],
            "parse-only": [ELIGC, "run", PROTOCOL, path, "--parse-only", "--jobs", "1"],
        }
        results = {name: [] for name in configs}
        for _ in range(repeat):
            for name, cmd in configs.items():
                results[name].append(measure(cmd))
        print(f"{'config':<11} {'median s':>9} {'min s':>7} {'max s':>7} {'patients/s':>11} {'MB/s':>7} {'peak RSS MB':>12} {'x baseline':>11} {'CPU s':>7} {'CPU x':>6}")
        medians = {}
        cpus = {}
        for name, runs in results.items():
            medians[name] = statistics.median(r[0] for r in runs)
            cpus[name] = statistics.median(r[2] for r in runs)
        for name, runs in results.items():
            walls = [r[0] for r in runs]
            wall = medians[name]
            rss = max(r[1] for r in runs)
            ratio = wall / medians["baseline"]
            cpu = cpus[name]
            print(f"{name:<11} {wall:>9.2f} {min(walls):>7.2f} {max(walls):>7.2f} {n / wall:>11,.0f} {size_mb / wall:>7.0f} {rss:>12.1f} {ratio:>11.2f} {cpu:>7.2f} {cpu / cpus['baseline']:>6.2f}")
        base = medians["baseline"]
        print(f"run-all / baseline = {medians['run-all'] / base:.2f}  (target <= 1.0)")
        print(f"run-1 / baseline   = {medians['run-1'] / base:.2f}  (target <= 1.5)")
        print(f"parse-only         = {size_mb / medians['parse-only']:.0f} MB/s  (target >= 250)")
    if not agree:
        print("\nMISMATCH: see above")
        sys.exit(1)


if __name__ == "__main__":
    main()

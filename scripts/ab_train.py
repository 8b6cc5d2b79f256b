#!/usr/bin/env python3
"""Time two builds of ebm against each other on the same run files, pair by pair.

    python3 scripts/ab_train.py --before OLD/ebm --after bin/ebm [--pairs 8] [--set key=value] FILE...

Each pair runs `ebm train FILE --out DIR --quiet` with one build and then the other (the order
alternating from pair to pair, DIR removed before each run) and reads the time per step from
summary.json (wall_seconds / steps). It prints, per file, each build's median and range, the
median and range of the after/before ratios taken pair by pair, whether the two builds wrote
byte-identical params.json, and the load average before and after. Standard library only.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="the ebm binary before the change")
    ap.add_argument("--after", required=True, help="the ebm binary after the change")
    ap.add_argument("--pairs", type=int, default=8, help="pairs of runs per file")
    ap.add_argument("--set", action="append", default=[], help="key=value passed to both builds (repeatable)")
    ap.add_argument("files", nargs="+", help="run files")
    a = ap.parse_args()
    for b in (a.before, a.after):
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            sys.exit(f"ab_train: {b} is not an executable file")
    if a.pairs < 1:
        sys.exit("ab_train: --pairs must be at least 1")
    sets = [x for kv in a.set for x in ("--set", kv)]
    print(f"load average before: {loadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        for f in a.files:
            times = {"before": [], "after": []}
            params = {}
            for r in range(a.pairs):
                order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
                for side in order:
                    shutil.rmtree(out, ignore_errors=True)
                    b = a.before if side == "before" else a.after
                    p = subprocess.run([b, "train", f, "--out", out, "--quiet"] + sets, capture_output=True, text=True)
                    if p.returncode != 0:
                        sys.exit(f"ab_train: {b} train {f} failed ({p.returncode}):\n{p.stderr}")
                    with open(os.path.join(out, "summary.json")) as s:
                        summ = json.load(s)
                    times[side].append(summ["wall_seconds"] / summ["steps"])
                    with open(os.path.join(out, "params.json"), "rb") as pf:
                        params[side] = pf.read()
            ratios = [x / y for x, y in zip(times["after"], times["before"])]
            for side in ("before", "after"):
                v = times[side]
                print(f"{f}: {side} {statistics.median(v) * 1e6:.1f} µs/step ({min(v) * 1e6:.1f}–{max(v) * 1e6:.1f})")
            print(f"{f}: after/before pair by pair {statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f});"
                  f" params identical: {params['before'] == params['after']}")
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()

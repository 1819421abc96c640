#!/usr/bin/env python3
"""Summarises `ncu --csv --metrics gpu__time_duration.sum` output: time per kernel name.

Usage: kernel-profile.py NCU.csv [STEPS]   (STEPS: decode steps the profiled launches cover)
"""
import collections
import csv
import sys

rows = list(csv.DictReader(line for line in open(sys.argv[1]) if line.startswith('"')))
steps = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
total = collections.defaultdict(float)
count = collections.Counter()
for r in rows:
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    name = r["Kernel Name"].split("(")[0]
    if "<" in r["Kernel Name"]:
        name = r["Kernel Name"].split(">")[0] + ">"
    value = float(r["Metric Value"].replace(",", ""))
    unit = r.get("Metric Unit", "ns")
    value *= {"nsecond": 1, "ns": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6}.get(unit, 1)
    total[name] += value
    count[name] += 1
grand = sum(total.values())
print(f"{'kernel':70s} {'calls/step':>10s} {'us/step':>9s} {'us/call':>8s} {'share':>6s}")
for name, t in sorted(total.items(), key=lambda kv: -kv[1]):
    print(f"{name[:70]:70s} {count[name] / steps:10.1f} {t / 1e3 / steps:9.1f} {t / 1e3 / count[name]:8.2f} {t / grand:6.1%}")
print(f"{'total':70s} {sum(count.values()) / steps:10.1f} {grand / 1e3 / steps:9.1f}")

#!/usr/bin/env python3
"""Reads surge_microbench's JSON output and prints each result as a ratio against its in-run baseline.

Usage: surge_microbench --benchmark_format=json | python3 bench/micro/ratios.py
"""
import json
import sys

# benchmark family -> (baseline family, what the ratio means)
RATIOS = {
    "BM_Unmask": ("BM_UnmaskBytewise", "x the byte-at-a-time loop"),
    "BM_UnmaskBytewise": ("BM_Memcpy", "of memcpy's speed"),
    "BM_Utf8Ascii": ("BM_Memcpy", "of memcpy's speed"),
    "BM_Utf8Mixed": ("BM_Memcpy", "of memcpy's speed"),
    "BM_DecodeBinary": ("BM_UnmaskBytewise", "x the byte-at-a-time unmask"),
    "BM_DecodeText": ("BM_UnmaskBytewise", "x the byte-at-a-time unmask"),
}


def main():
    report = json.load(sys.stdin)
    by_name = {}
    for b in report["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        by_name[name] = b
    print(f"{'benchmark':34} {'time/op':>12} {'GB/s':>8} {'allocs':>7}  ratio")
    for name, b in by_name.items():
        family, _, arg = name.partition("/")
        rate = b.get("bytes_per_second", 0) / 1e9
        allocs = b.get("allocs", "")
        line = f"{name:34} {b['real_time']:10.1f}{b['time_unit']:>2} {rate:8.2f} {allocs!s:>7}"
        if family in RATIOS and arg not in ("", "0"):
            base_family, meaning = RATIOS[family]
            base = by_name.get(f"{base_family}/{arg}")
            if base and base.get("bytes_per_second"):
                line += f"  {b['bytes_per_second'] / base['bytes_per_second']:.2f} {meaning}"
        if family == "BM_UpgradeBrowser" and "BM_UpgradeMemcpyBaseline" in by_name:
            base = by_name["BM_UpgradeMemcpyBaseline"]
            line += f"  {b['real_time'] / base['real_time']:.0f}x a memcpy of the request"
        print(line)


if __name__ == "__main__":
    main()

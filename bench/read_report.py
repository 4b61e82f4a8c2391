"""The table bench/read.py prints (and its --json file)."""
from __future__ import annotations

import json


def report(results: list, facts: dict, seeded, options, page: int) -> None:
    import os

    bases = {r.baseline: r for r in results if r.api == "keyset SQL"}
    print(f"""
read benchmark: one account of {seeded.deliveries:,} deliveries (+ {seeded.other_deliveries:,} of a neighbour), \
{page} rows a page, {options.r} timed requests after {options.warmup} warm-up, in process (Flask test client), \
{os.cpu_count()} cores
x SQL: p50 over the raw keyset SQL's p50 for the same kind of page (first, deep, or first of 1000 rows);
p99 is the nearest rank (of {options.r} samples: the slowest)
""")
    print(f"  {'API':<11}{'page':<36}{'p50 ms':>9}{'p99 ms':>9}{'x SQL':>8}  {'rows':>5}  note")
    for result in results:
        if result.skipped:
            print(f"  {result.api:<11}{result.page:<36}{'':>9}{'':>9}{'':>8}  {'':>5}  {result.skipped}")
            continue
        base = bases.get(result.baseline)
        ratio = f"{result.p50 / base.p50:.1f}" if base else ""
        print(f"  {result.api:<11}{result.page:<36}{result.p50:9.2f}{result.p99:9.2f}{ratio:>8}  "
              f"{result.items if result.items is not None else '':>5}  {result.note}")
    print("\n  caps: " + "; ".join(f"{name.split('_')[0]} {text}" for name, text in facts.items()
                                   if name.endswith("_cap")) + ". A jump past them is refused; pages walked to in order "
          "pass them (page marks), but for SendCloud's start.")
    pages = {(r.api, r.page): r for r in results if r.samples}
    depth = [f"{r.api} {r.page.split(',')[0] + ' ' if r.api == 'infobip' else ''}"
             f"{r.p50 / pages[(r.api, r.pair)].p50:.2f}"
             for r in results if r.samples and (r.api, r.pair) in pages]
    print("  deep page p50 / first page p50: " + ", ".join(depth))
    if not options.no_explain:
        print("\n  plans of each query a request ran but the API key lookup (SELECTs: EXPLAIN ANALYZE, run once more):")
        for result in results:
            for plan in result.plans:
                print(f"    {result.api:<11}{result.page:<36}{plan}")
    if options.json:
        options.json.write_text(json.dumps({
            "n": seeded.deliveries, "neighbour": seeded.other_deliveries, "seed_seconds": seeded.seconds,
            "repeat": options.r, "facts": facts,
            "results": [{"api": r.api, "page": r.page, "p50_ms": r.p50 if r.samples else None,
                         "p99_ms": r.p99 if r.samples else None, "items": r.items, "note": r.note,
                         "skipped": r.skipped, "plans": r.plans} for r in results],
        }, indent=2))

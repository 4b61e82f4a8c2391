"""The table bench/read.py prints (and its --json file)."""
from __future__ import annotations

import json


def report(results: list, facts: dict, seeded, options, page: int) -> None:
    import os

    bases = {r.baseline: r for r in results if r.api == "keyset SQL"}  # timed alone, before the pages
    rounds = {r.baseline: r for r in results if r.api == "keyset SQL, rounds"}  # timed among them
    print(f"""
read benchmark: one account of {seeded.deliveries:,} deliveries (+ {seeded.other_deliveries:,} of a neighbour), \
{page} rows a page, {options.r} timed requests after {options.warmup} warm-up; the APIs over loopback HTTP from one \
sequential client, gunicorn {facts.get('web_workers', '?')} sync workers; {os.cpu_count()} cores, load average \
{facts['load'][0]:.1f} before the APIs' timing and {facts['load'][1]:.1f} after (other work on the machine inflates wall
times, the client's and the server's alike: compare the 204 route's; CPU per request is the steadier figure)
x SQL: the page's p50 (p99) over the raw keyset SQL's p50 (p99) through psycopg2, same kind of page (first, deep,
or first of 1000 rows), the SQL timed alone, R times in a row before the pages; x rounds: the p50 over the same
SQL's timed as one more page of the shuffled rounds, amid the pages' load and caches (a cross-check: a burst of load
during the SQL alone shows as the two columns parting); p99 is the nearest rank. CPU: every gunicorn process's CPU
per request, the mean.
targets (issue 12): native <= 3x SQL, compatible lists <= 4x SQL, <= 2 ms gunicorn CPU per list request
""")
    print(f"  {'API':<19}{'page':<36}{'p50 ms':>8}{'p99 ms':>8}{'x SQL':>7}{'p99 x':>7}{'x rounds':>9}{'CPU ms':>8}  "
          f"{'rows':>5}  note")
    for result in results:
        if result.skipped:
            print(f"  {result.api:<19}{result.page:<36}{'':>8}{'':>8}{'':>7}{'':>7}{'':>9}{'':>8}  {'':>5}  "
                  f"{result.skipped}")
            continue
        base, base_rounds = bases.get(result.baseline), rounds.get(result.baseline)
        ratio = f"{result.p50 / base.p50:.1f}" if base else ""
        ratio99 = f"{result.p99 / base.p99:.1f}" if base else ""
        ratio_rounds = f"{result.p50 / base_rounds.p50:.1f}" if base_rounds else ""
        cpu = f"{result.cpu_ms:.2f}" if result.cpu_ms is not None else ""
        print(f"  {result.api:<19}{result.page:<36}{result.p50:8.2f}{result.p99:8.2f}{ratio:>7}{ratio99:>7}"
              f"{ratio_rounds:>9}{cpu:>8}  {result.items if result.items is not None else '':>5}  {result.note}")
    print("\n  caps: " + "; ".join(f"{name.split('_')[0]} {text}" for name, text in facts.items()
                                   if name.endswith("_cap") and isinstance(text, str))
          + ". A jump past them is refused; pages walked to in order "
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
                         "p99_ms": r.p99 if r.samples else None,
                         "cpu_ms": r.cpu_ms, "baseline": r.baseline, "items": r.items, "note": r.note,
                         "skipped": r.skipped, "plans": r.plans} for r in results],
        }, indent=2))


def report_old(results: list, old: dict, tree) -> None:
    """This tree's pages against the old tree's, timed in the same rounds on the same database."""
    print(f"\nold tree ({tree}) vs this tree, the same pages in the same rounds (new / old: below 1 is faster)")
    print(f"  {'API':<11}{'page':<36}{'p50 old':>8}{'p50 new':>8}{'ratio':>7}{'CPU old':>8}{'CPU new':>8}{'ratio':>7}")
    for result in results:
        before = old.get((result.api, result.page))
        if before is None or result.skipped or before.skipped or not before.samples or result.cpu_ms is None:
            continue
        print(f"  {result.api:<11}{result.page:<36}{before.p50:8.2f}{result.p50:8.2f}{result.p50 / before.p50:7.2f}"
              f"{before.cpu_ms:8.2f}{result.cpu_ms:8.2f}{result.cpu_ms / before.cpu_ms:7.2f}")

#!/usr/bin/env python3
"""The report of scripts/bench/e2e.sh, from its rows (one per engine, round and variant, tab-separated):
engine round variant events docs rejected node_cpu_ms merge_cpu_ms wall_s ingester_cpu_s store_bytes fields.

Per engine, a table of each variant's median per 1,000 events sent (bytes: per document indexed), with
the spread over rounds; then the ratios, each taken within one round (the same machine load) and shown
as median [min-max] over the rounds. Python 3 standard library only.

Usage: report.py ROWS.tsv
"""
import statistics
import sys
from collections import defaultdict

NAMES = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}


def spread(values, fmt):
    if not values:
        return "n/a"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def main(path):
    rows = defaultdict(dict)  # (engine, round) -> variant -> row
    order = []
    for line in open(path):
        e, r, v, events, docs, rej, cpu, merge, wall, ing, store, fields = line.rstrip("\n").split("\t")
        rows[(e, r)][v] = dict(events=int(events), docs=int(docs), rejected=rej, cpu=int(cpu), merge=int(merge),
                               wall=float(wall), ingest=float(ing), store=int(store), fields=int(fields))
        if v not in order:
            order.append(v)
    for engine in dict.fromkeys(e for e, _ in rows):
        rounds = [rows[k] for k in rows if k[0] == engine]
        print(f"\n{NAMES.get(engine, engine)} ({len(rounds)} round(s); median [min-max] over rounds)")
        print(f"{'variant':<24} {'node CPU ms/1k ev':>22} {'merge CPU ms/1k':>16} {'bytes/doc':>16} "
              f"{'wall s/1k ev':>20} {'loader CPU s/1k':>16} {'docs':>7} {'rejected':>8} {'fields':>6}")
        for v in order:
            got = [r[v] for r in rounds if v in r]
            if not got:
                continue
            k = lambda x: 1000 / x["events"]
            print(f"{v:<24} {spread([g['cpu'] * k(g) for g in got], '{:.1f}'):>22} "
                  f"{spread([g['merge'] * k(g) for g in got], '{:.1f}'):>16} "
                  f"{spread([g['store'] / max(g['docs'], 1) for g in got], '{:.0f}'):>16} "
                  f"{spread([g['wall'] * k(g) for g in got], '{:.3f}'):>20} "
                  f"{spread([g['ingest'] * k(g) for g in got], '{:.3f}'):>16} "
                  f"{got[0]['docs']:>7} {'/'.join(dict.fromkeys(g['rejected'] for g in got)):>8} "
                  f"{got[0]['fields']:>6}")
        ratios = []
        def ratio(label, a, b, key, per_doc=False):
            vals = []
            for r in rounds:
                if a in r and b in r:
                    x, y = r[a], r[b]
                    if per_doc:
                        vals.append((x["store"] / max(x["docs"], 1)) / (y["store"] / max(y["docs"], 1)))
                    elif y[key]:
                        vals.append(x[key] / y[key])
            if vals:
                ratios.append(f"  {label:<44} {spread(vals, '{:.2f}')}")
        for v in order:
            if v != "floor":
                ratio(f"node CPU {v}/floor", v, "floor", "cpu")
        for v in order:
            if v.startswith("exp:"):
                ratio(f"node CPU {v}/template", v, "template", "cpu")
        for v in order:
            if v != "floor":
                ratio(f"bytes/doc {v}/floor", v, "floor", "store", per_doc=True)
        for v in order:
            if v.startswith("exp:"):
                ratio(f"bytes/doc {v}/template", v, "template", "store", per_doc=True)
        ratio("wall python/ours (template)", "python", "template", "wall")
        ratio("loader CPU python/ours", "python", "template", "ingest")
        ratio("node CPU python/ours", "python", "template", "cpu")
        if ratios:
            print("ratios, within each round:")
            print("\n".join(ratios))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

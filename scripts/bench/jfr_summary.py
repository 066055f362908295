#!/usr/bin/env python3
"""Sums up a JFR recording of an Elasticsearch / OpenSearch node by what it was doing (node-profile.sh).

Prints the JIT compiler's share of the JVM threads' CPU (jdk.ThreadCPULoad), the execution samples
(jdk.ExecutionSample: Java code only; GC and the compiler are not sampled) by stage, each sample
counted once, in the first stage of STAGES whose pattern its stack matches, then the samples whose
stack names each cost of COSTS (a sample may count in several), then the hottest frames.
Python 3 standard library only; `jfr` is the JDK's tool (--jfr PATH, else `jfr` on PATH).

Usage: jfr_summary.py [--jfr PATH] RECORDING.jfr
"""
import collections
import json
import re
import subprocess
import sys

STAGES = [
    ("merges", r"IndexWriter\.merge|MergeThread|SegmentMerger"),
    ("writing segments (flush)", r"DocumentsWriterPerThread\.flush|DocumentsWriter\.doFlush|IndexWriter\.getReader"),
    ("cluster state: index creation, mapping and settings updates",
     r"MasterService|ClusterApplierService|MetadataCreateIndexService|MapperService\.merge|"
     r"MetadataMappingService|IndicesClusterStateService|MetadataUpdateSettingsService"),
    ("translog", r"\.translog\."),
    ("indexing the fields (inverted index, doc values, points, stored fields)",
     r"IndexingChain\.processDocument|IndexWriter\.(add|update|softUpdate)Document"),
    ("parsing the documents (mapping)", r"DocumentParser|XContentParser|JsonXContent|jackson"),
    ("bulk action", r"TransportShardBulkAction|TransportBulkAction|IngestService"),
    ("HTTP", r"netty"),
]
COSTS = [
    ("date parsing", r"DateFieldType\.parse"),
    ("flat_object / flattened parsing", r"FlatObjectFieldMapper|FlattenedFieldParser"),
    ("index sorting", r"SortingStoredFieldsConsumer|SortingCodecReader|IndexSorter|Sorter\.sort$"),
    ("terms (postings)", r"TermsHash|FreqProxTermsWriter|BytesRefHash"),
    ("doc values", r"DocValuesWriter|DocValuesConsumer"),
    ("stored fields (_source)", r"StoredFieldsWriter|StoredFieldsConsumer"),
]


def events(jfr, recording, kind):
    out = subprocess.run([jfr, "print", "--json", "--stack-depth", "256", "--events", kind, recording],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["recording"]["events"]


def frames(event):
    trace = event["values"].get("stackTrace") or {"frames": []}
    return [f["method"]["type"]["name"].replace("/", ".") + "." + f["method"]["name"] for f in trace["frames"]]


def main(argv):
    jfr = "jfr"
    if argv[:1] == ["--jfr"]:
        jfr, argv = argv[1], argv[2:]
    if len(argv) != 1:
        sys.exit(__doc__)
    recording = argv[0]
    threads = collections.Counter()
    for e in events(jfr, recording, "jdk.ThreadCPULoad"):
        v = e["values"]
        name = (v.get("eventThread") or {}).get("javaName") or "?"
        threads["JIT compiler" if "CompilerThread" in name else "other"] += v["user"] + v["system"]
    total = sum(threads.values()) or 1
    print(f"JIT compiler: {100 * threads['JIT compiler'] / total:.1f}% of the JVM threads' CPU")
    stacks = [frames(e) for e in events(jfr, recording, "jdk.ExecutionSample")]
    n = len(stacks) or 1
    stages, costs, top = collections.Counter(), collections.Counter(), collections.Counter()
    for stack in stacks:
        text = "\n".join(stack)
        stages[next((s for s, rx in STAGES if re.search(rx, text, re.M)), "other")] += 1
        for c, rx in COSTS:
            costs[c] += bool(re.search(rx, text, re.M))
        if stack:
            top[stack[0]] += 1
    print(f"{len(stacks)} execution samples, by stage:")
    for s, k in stages.most_common():
        print(f"  {k:6d} {100 * k / n:5.1f}%  {s}")
    print("samples whose stack names:")
    for c, _ in COSTS:
        print(f"  {costs[c]:6d} {100 * costs[c] / n:5.1f}%  {c}")
    print("hottest frames:")
    for f, k in top.most_common(10):
        print(f"  {k:6d} {100 * k / n:5.1f}%  {f}")


if __name__ == "__main__":
    main(sys.argv[1:])

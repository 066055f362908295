"""OpenSearch Serverless's differences from a cluster, for scripts/sigv4-proxy.py (imported from beside it):
which paths a collection answers 404 to, and how a time-series collection refuses custom `_id`s in a bulk
request: per item, with a 400 and Serverless's own error text, while the other items are indexed. Sources:
AWS's "Supported operations and plugins in Amazon OpenSearch Serverless" page (serverless-genref; it lists
GET _cat/indices as supported, and POST/PUT <index>/_doc/<id> and _create/<id> as "search collections
only"), and the bulk answers quoted in public issues (langchainjs 4346, opensearch-py 792).
"""

import fnmatch
import json

ID_REFUSED = "Document ID is not supported in create/index operation request"


def missing(segments):
    """True for a path (decoded segments) that OpenSearch Serverless answers 404 to."""
    if not segments:
        return True  # GET /, HEAD /
    first = segments[0]
    if first in ("_nodes", "_cluster", "_refresh") or segments[1:2] == ["_refresh"]:
        return True
    if first == "_cat":
        return segments[1:2] != ["indices"]
    return first in ("_plugins", "_opendistro") and segments[1:2] == ["_ism"]


def es_error(status, kind, reason):
    """An OpenSearch-style error answer: (status, body)."""
    return status, {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
                    "status": status}


class TimeSeriesBulk:
    """A bulk body split into the items a time-series collection takes and those it refuses.

    `kept` is the NDJSON to forward (uncompressed), `refused` how many items were refused; `merge(answer)`
    puts OpenSearch's answer for the kept items and the refusals back in the request's order."""

    def __init__(self, data, path_index):
        self.items, self.path_index = [], path_index  # (op, meta, action line, source line or None)
        lines, i = data.split(b"\n"), 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            action = json.loads(line)
            op = next(iter(action))
            source = None
            if op != "delete":
                source, i = (lines[i] if i < len(lines) else b""), i + 1
            self.items.append((op, action[op] or {}, line, source))
        self.flags = [op in ("index", "create") and "_id" in meta for op, meta, _, _ in self.items]
        self.refused = sum(self.flags)
        self.kept = b"".join(a + b"\n" + (b"" if s is None else s + b"\n")
                             for (_, _, a, s), r in zip(self.items, self.flags) if not r)

    def merge(self, answer):
        results, items = iter(answer.get("items", [])), []
        for (op, meta, _, _), refused in zip(self.items, self.flags):
            if refused:
                items.append({op: {"_index": meta.get("_index", self.path_index), "_id": meta["_id"], "status": 400,
                                   "error": {"type": "illegal_argument_exception", "reason": ID_REFUSED}}})
            else:
                items.append(next(results))
        return {"took": answer.get("took", 0), "errors": True, "items": items}


def filter_path(value, patterns):
    """OpenSearch's filter_path, inclusions only (`*` within a name, `**` across levels; arrays transparent)."""
    def strip(p):
        while p and p[-1] == "**":
            p = p[:-1]
        return p

    def advance(p, key):
        if p[0] == "**":
            return [p] + (advance(p[1:], key) if len(p) > 1 else [])
        return [strip(p[1:])] if fnmatch.fnmatchcase(key, p[0]) else []

    def keep(node, paths):
        if any(not p for p in paths):
            return node
        if isinstance(node, list):
            return [k for k in (keep(n, paths) for n in node) if k is not None] or None
        if not isinstance(node, dict):
            return None
        out = {}
        for key, child in node.items():
            rest = [r for p in paths for r in advance(p, key)]
            kept = keep(child, rest) if rest else None
            if kept is not None:
                out[key] = kept
        return out or None

    return keep(value, [strip(p.split(".")) for p in patterns.split(",") if p]) or {}

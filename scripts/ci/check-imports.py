#!/usr/bin/env python3
"""Fails when the files under src/ import each other in a circle, or code below the face uses cli.

The graph is file-level: an edge A -> B for each `crate::`/`super::`/`self::` path in A (comments
stripped) naming a module B that is not A's own ancestor (a child naming its parent module is how
Rust scopes work, not a dependency circle). Strongly connected components of more than one file
are printed with their edges. Run by .ci/run; `python3 scripts/ci/check-imports.py` by hand.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")


def modules():
    found = {}
    for folder, _, names in os.walk(ROOT):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                if parts[-1] in ("mod", "lib"):
                    parts = parts[:-1]
                found["::".join(parts)] = path
    return found


def edges_of(files):
    edges = {m: set() for m in files}
    for module, path in files.items():
        text = re.sub(r"//[^\n]*", "", open(path, encoding="utf-8").read())
        me = module.split("::") if module else []
        own = os.path.basename(path) in ("mod.rs", "lib.rs")
        for use in re.finditer(r"\b(crate|super|self)((?:::\w+)+)(?:::\{([^;]*?)\})?", text):
            head, rest, group = use.groups()
            segments = rest.strip(":").split("::")
            base = [] if head == "crate" else (me if (head == "self" and own) else me[:-1])
            if head == "super" and own:
                base = me[:-1]
            targets = [base + segments]
            for item in (group or "").split(","):
                item = item.strip().split("::")[0].split(" ")[0]
                if item and item != "self":
                    targets.append(base + segments + [item])
            for target in targets:
                for i in range(len(target), 0, -1):
                    name = "::".join(target[:i])
                    if name in files:
                        if name != module and not module.startswith(name + "::"):
                            edges[module].add(name)
                        break
    return edges


def circles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    files = modules()
    edges = edges_of(files)
    bad = 0
    for component in circles(edges):
        bad += 1
        print("import circle:", ", ".join(component))
        for a in component:
            for b in sorted(edges[a] & set(component)):
                print(f"    {a} -> {b}")
    for module, targets in edges.items():
        if "cli" in targets and not (module == "main" or module == "cli" or module.startswith("cli::")):
            bad += 1
            print(f"{module} imports cli: flags end at the face (main.rs, cli/)")
    print(f"check-imports: {len(files)} files, {bad} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

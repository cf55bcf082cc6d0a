#!/usr/bin/env python3
"""The import graph of the gate's modules (axum-authsignal/src/step_up), and its cycles.

Each module of the gate is a node: `step_up` (mod.rs), `config` (config.rs),
`flow::gate` (flow/gate.rs), ... An edge A -> B means that A's file names something of
B: through a `use` declaration (grouped, nested, `self`, `super`, `crate::step_up::...`,
a child module by its name) or a path in code (`crate::step_up::x::Y`, `super::x::y()`,
`child::f()`). A name reached through a re-export (`super::StepUpConfig`, which mod.rs
re-exports from `config`) is an edge to the module that defines it, not to the one that
re-exports it. Inline modules (`mod tests { ... }`) count as part of their file. Comments
(doc comments and their links included) and string literals are not code and add nothing.

Prints the listing, one line per module: the modules it imports. Exits 1 and prints every
cycle when the graph is not a DAG; 2 when the sources cannot be read.

    python3 .ci/module-graph.py [SOURCE_DIR]   # default: axum-authsignal/src/step_up
"""

import os
import re
import sys

ROOT = "step_up"
RAW_STRING = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'")


def is_ident(c):
    return c.isalnum() or c == "_"


def strip_comments_and_strings(text):
    """The code of `text`, with comments and the contents of string and char literals
    blanked (newlines kept, so that nothing else moves)."""
    out = []
    i, n = 0, len(text)

    def blank(segment):
        return "".join("\n" if c == "\n" else " " for c in segment)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            out.append(blank(text[i:end]))
            i = end
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif (m := RAW_STRING.match(text, i)) and not (i and is_ident(text[i - 1])):
            closing = '"' + m.group(1)
            end = text.find(closing, m.end())
            end = n if end == -1 else end + len(closing)
            out.append(blank(text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i : j + 1]))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}'), or a lifetime ('a, 'static): only
            # the former is blanked.
            m = CHAR.match(text, i)
            if m:
                out.append(blank(m.group(0)))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_files(src):
    """{module path (tuple of names, () for the root): file path}."""
    modules = {}
    for dirpath, _dirs, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        base = () if rel == "." else tuple(rel.split(os.sep))
        for name in files:
            if not name.endswith(".rs"):
                continue
            stem = name[:-3]
            path = base if stem == "mod" else base + (stem,)
            modules[path] = os.path.join(dirpath, name)
    return modules


def split_top(text, sep=","):
    """`text` split on `sep` outside braces."""
    parts, depth, current = [], 0, []
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_uses(code):
    """Every `use` declaration of `code`: (path, local name) pairs, and the code without them."""
    pairs = []

    def take(m):
        tree = m.group(1)
        # Keep aliases apart before spaces are dropped: `a::b as c` -> `a::b@c`.
        tree = re.sub(r"\s+as\s+([A-Za-z_][A-Za-z0-9_]*)", r"@\1", tree)
        pairs.extend(expand_use_tree(tree))
        return " " * len(m.group(0))

    rest = re.sub(r"\buse\s+([^;]+);", take, code)
    return pairs, rest


def expand_use_tree(tree, prefix=()):
    """A `use` tree (aliases written `path@alias`) as (path, local name) pairs; the name
    is None for a glob."""
    tree = re.sub(r"\s+", "", tree)
    if tree.startswith("::"):
        tree = tree[2:]
    m = re.match(r"^((?:[A-Za-z_][A-Za-z0-9_]*::)*)\{(.*)\}$", tree)
    if m:
        head = tuple(s for s in m.group(1).split("::") if s)
        pairs = []
        for sub in split_top(m.group(2)):
            pairs.extend(expand_use_tree(sub, prefix + head))
        return pairs
    alias = None
    if "@" in tree:
        tree, alias = tree.split("@", 1)
    path = prefix + tuple(s for s in tree.split("::") if s)
    if path and path[-1] == "*":
        return [(path[:-1], None)]
    if path and path[-1] == "self":
        path = path[:-1]
    name = alias or (path[-1] if path else None)
    return [(path, name)]


class Scope:
    """One module (a file, or an inline module within it) and the names it imports."""

    def __init__(self, path, node):
        self.path = path  # the module's path, inline modules included
        self.node = node  # the file's module: the graph's node
        self.uses = []  # (absolute path or None, local name)
        self.code_paths = []  # raw paths found in code


def find_inline_modules(code):
    """[(name, start, end)] of `mod name { ... }` blocks in `code` (outermost first)."""
    blocks = []
    for m in re.finditer(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", code):
        depth, j = 1, m.end()
        while j < len(code) and depth:
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
            j += 1
        blocks.append((m.group(1), m.start(), j))
    return blocks


class Graph:
    def __init__(self, src):
        self.files = module_files(src)
        if () not in self.files:
            raise FileNotFoundError(os.path.join(src, "mod.rs"))
        self.scopes = {}  # module path -> Scope
        for node, file in self.files.items():
            with open(file, encoding="utf-8") as handle:
                code = strip_comments_and_strings(handle.read())
            self.read_scope(node, node, code)

    def read_scope(self, path, node, code):
        scope = Scope(path, node)
        self.scopes[path] = scope
        # Inline modules are scopes of their own (their `super` is this one).
        inner = []
        for name, start, end in find_inline_modules(code):
            if any(s <= start < e for _, s, e in inner):
                continue
            inner.append((name, start, end))
        own = list(code)
        for name, start, end in inner:
            body_start = code.index("{", start) + 1
            self.read_scope(path + (name,), node, code[body_start : end - 1])
            for k in range(start, end):
                if own[k] != "\n":
                    own[k] = " "
        own = "".join(own)
        uses, rest = parse_uses(own)
        for raw, name in uses:
            scope.uses.append((self.absolute(raw, path), name))
        for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:[A-Za-z_][A-Za-z0-9_]*::)+[A-Za-z_][A-Za-z0-9_]*)", rest):
            scope.code_paths.append(tuple(m.group(1).split("::")))

    def is_module(self, path):
        return path in self.files or path in self.scopes

    def absolute(self, raw, at):
        """`raw` (a path as written in module `at`) from the gate's root, or None when it
        leaves the gate (std, another crate, another module of this crate)."""
        if not raw:
            return None
        first = raw[0]
        if first == "crate":
            if len(raw) >= 2 and raw[1] == ROOT:
                return raw[2:]
            return None
        if first in ("super", "self"):
            base = list(at)
            k = 0
            while k < len(raw) and raw[k] in ("super", "self"):
                if raw[k] == "super":
                    if not base:
                        return None  # above the gate
                    base.pop()
                k += 1
            return tuple(base) + tuple(raw[k:])
        # A child module of `at`, named as in 2018 paths.
        if self.is_module(tuple(at) + (first,)):
            return tuple(at) + tuple(raw)
        return None

    def local_name(self, scope, name):
        """What `name`, imported by a `use` of `scope`, stands for (an absolute path)."""
        for target, local in scope.uses:
            if local == name and target is not None:
                return target
        return None

    def resolve(self, path, seen=None):
        """The module that defines what `path` names (a module names itself)."""
        seen = seen or set()
        if path in seen:
            return None
        seen.add(path)
        module = ()
        for k, segment in enumerate(path):
            if self.is_module(module + (segment,)):
                module = module + (segment,)
                continue
            scope = self.scopes.get(module)
            if scope is None:
                return None
            target = self.local_name(scope, segment)
            if target is not None:
                return self.resolve(target + tuple(path[k + 1 :]), seen)
            # A glob: the name may come through it.
            for glob_target, local in scope.uses:
                if local is None and glob_target is not None:
                    found = self.resolve(glob_target + (segment,), seen)
                    if found is not None and found != glob_target:
                        return found
            return module  # defined here (or unknown: then here is the best guess)
        return module

    def edges(self):
        edges = {node: set() for node in self.files}
        for scope in self.scopes.values():
            targets = []
            for target, _name in scope.uses:
                if target is not None:
                    targets.append(target)
            for raw in scope.code_paths:
                if raw[0] in ("crate", "super", "self") or self.is_module(scope.path + (raw[0],)):
                    target = self.absolute(raw, scope.path)
                else:
                    target = self.local_name(scope, raw[0])
                    target = target + raw[1:] if target is not None else None
                if target is not None:
                    targets.append(target)
            for target in targets:
                module = self.resolve(target)
                if module is None:
                    continue
                node = self.node_of(module)
                if node is not None and node != scope.node:
                    edges[scope.node].add(node)
        return edges

    def node_of(self, module):
        """The file module `module` is in (an inline module counts as its file)."""
        while module not in self.files:
            if not module:
                return None
            module = module[:-1]
        return module


def name(node):
    return "::".join(node) if node else ROOT


def cycles(edges):
    """Every strongly connected component of more than one module (or with a self-loop),
    each with the shortest circle through each of its modules."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    result = []
    for component in found:
        members = set(component)
        shortest = []
        for start in component:
            cycle = shortest_cycle(edges, members, start)
            if cycle:
                # The same circle seen from another of its modules: listed once.
                body = cycle[:-1]
                turn = body.index(min(body))
                rotated = body[turn:] + body[:turn]
                rotated.append(rotated[0])
                if rotated not in shortest:
                    shortest.append(rotated)
        result.append((component, shortest))
    return result


def shortest_cycle(edges, members, start):
    """The shortest way from `start` back to itself within `members`, or None."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v]):
            if w == start:
                return paths[v] + [start]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return None


def layer_of(edges):
    """Each module's layer in a DAG: 0 for a leaf, else one more than its highest import."""
    layers = {}

    def visit(v):
        if v not in layers:
            layers[v] = 1 + max((visit(w) for w in edges[v]), default=-1)
        return layers[v]

    for v in edges:
        visit(v)
    return layers


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    src = argv[1] if len(argv) > 1 else os.path.join(here, "..", "axum-authsignal", "src", "step_up")
    try:
        graph = Graph(src)
    except OSError as err:
        print(f"module-graph: cannot read the gate's sources: {err}", file=sys.stderr)
        return 2
    edges = graph.edges()
    found = cycles(edges)
    layers = {} if found else layer_of(edges)
    width = max(len(name(node)) for node in edges)
    print(f"The gate's modules ({os.path.normpath(src)}), each with the modules it imports")
    if layers:
        print("(in brackets its layer: 0 imports nothing of the gate, n only layers below n):")
    for node in sorted(edges, key=name):
        imports = ", ".join(sorted(name(target) for target in edges[node]))
        layer = f"[{layers[node]}]" if layers else ""
        print(f"  {name(node) + ':':<{width + 1}} {layer:>4} {imports or '(leaf)'}")
    if found:
        print(f"\n{len(found)} circle(s) of imports:", file=sys.stderr)
        for component, shortest in found:
            print(f"  among {', '.join(name(v) for v in component)}:", file=sys.stderr)
            for cycle in shortest:
                print(f"    {' -> '.join(name(v) for v in cycle)}", file=sys.stderr)
        return 1
    print("\nNo circle of imports: the graph is a DAG.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

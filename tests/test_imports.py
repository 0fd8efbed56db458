"""The import graph of ramvid/, metrics/ and benchmarks/: no cycles, and dependencies point one way.

Every import statement counts, also those inside functions (lazy imports), under ``if TYPE_CHECKING``
and ``importlib.import_module("literal")`` calls. ``from a.b import c`` is an edge to module ``a.b.c``
when that is a module, else to ``a.b``; a package's ``__init__`` is a module. Importing ``a.b`` also
runs ``a/__init__.py``, but that implied parent import is not an edge (else every package would be
a cycle). Rules: no cycles; ``metrics`` imports nothing from ``ramvid`` or ``benchmarks``; ``ramvid``
nothing from ``benchmarks`` or ``metrics``; only ``benchmarks/cli/*``, ``benchmarks/__main__.py`` and
scripts (files in a folder without ``__init__.py``, e.g. ``benchmarks/perf/``) import ``benchmarks.cli``.

As a script, prints every cycle and rule violation (exit status 1 if any):
``python tests/test_imports.py``.
"""
from __future__ import annotations

import ast
import sys
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ramvid", "metrics", "benchmarks")
CLI = "benchmarks.cli"
CLI_USERS = ("benchmarks.cli", "benchmarks.__main__")  # and their submodules


def module_files(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """{dotted module name: file} for every .py file under the packages."""
    out: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules`` (None: outside the packages)."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def _imported_names(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """Dotted names one AST node imports (``from a import b`` gives ``a.b``, to be resolved)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[:len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        return [base] + [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
        return [node.args[0].value]
    return []


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, dict[str, int]]:
    """{module: {imported module: first line}} over the packages' own modules."""
    modules = module_files(root, packages)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = _imported_names(node, module, is_package)
            if isinstance(node, ast.ImportFrom) and len(names) > 1:
                # ``from a import b``: the submodule a.b when it is one, else a itself
                targets = {n if n in modules else _resolve(names[0], modules) for n in names[1:]}
            else:
                targets = {_resolve(n, modules) for n in names}
            for target in targets - {None, module}:
                edges[target] = min(edges.get(target, node.lineno), node.lineno)
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in discovery order, members sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    out.append(sorted(comp))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, {})))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _cycle_through(first: str, members: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """A shortest cycle first -> ... -> first inside one strongly connected component."""
    parent: dict[str, str] = {}
    frontier = [first]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == first:
                    path = [node]
                    while path[-1] != first:
                        path.append(parent[path[-1]])
                    return [*reversed(path), first]
                if child in members and child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    raise AssertionError(f"{first} is on no cycle")


def find_cycles(graph: dict[str, dict[str, int]]) -> list[str]:
    """One readable line per import cycle: ``a (a.py:3) -> b (b.py:10) -> a``."""
    lines = []
    for comp in _strongly_connected(graph):
        if len(comp) < 2:
            continue
        cycle = _cycle_through(comp[0], set(comp), graph)
        steps = [f"{a} (line {graph[a][b]})" for a, b in pairwise(cycle)]
        others = f"  [strongly connected: {', '.join(comp)}]" if len(comp) > len(cycle) - 1 else ""
        lines.append(" -> ".join([*steps, cycle[-1]]) + others)
    return lines


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(graph: dict[str, dict[str, int]], root: Path = ROOT) -> list[str]:
    """Imports against the one-way rule: benchmarks -> (ramvid, metrics); only the CLI uses the CLI."""
    modules = module_files(root, tuple(sorted({m.split(".")[0] for m in graph})))
    forbidden = {"metrics": ("ramvid", "benchmarks"), "ramvid": ("benchmarks", "metrics")}
    out = []
    for src in sorted(graph):
        for dst, line in sorted(graph[src].items()):
            where = f"{modules[src].relative_to(root)}:{line}: {src} imports {dst}"
            if any(_in(dst, bad) for bad in forbidden.get(src.split(".")[0], ())):
                out.append(f"{where} ({src.split('.')[0]}/ must not depend on {dst.split('.')[0]}/)")
            script = not (modules[src].parent / "__init__.py").is_file()
            if _in(dst, CLI) and not script and not any(_in(src, ok) for ok in CLI_USERS):
                out.append(f"{where} (only benchmarks/cli/* and benchmarks/__main__.py may use the CLI)")
    return out


# tests -------------------------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_graph_counts_lazy_relative_and_submodule_imports(tmp_path):
    _write(tmp_path, {
        "p/__init__.py": "",
        "p/a.py": "import os\nfrom p import b\nfrom p.c import thing\n",
        "p/b.py": "def f():\n    from .sub import d\n    import importlib\n"
                  "    return importlib.import_module('p.a')\n",
        "p/c.py": "thing = 1\n",
        "p/sub/__init__.py": "from .d import x\n",
        "p/sub/d.py": "import p.c\nx = 2\n",
    })
    graph = import_graph(tmp_path, ("p",))
    assert graph == {"p": {}, "p.a": {"p.b": 2, "p.c": 3}, "p.b": {"p.sub.d": 2, "p.a": 4}, "p.c": {},
                     "p.sub": {"p.sub.d": 1}, "p.sub.d": {"p.c": 1}}
    assert find_cycles(graph) == ["p.a (line 2) -> p.b (line 4) -> p.a"]
    assert find_cycles({"x": {"y": 1}, "y": {}}) == []


def test_no_import_cycles():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (lazy imports included):\n" + "\n".join(cycles)


def test_dependencies_point_one_way():
    bad = layer_violations(import_graph())
    assert not bad, "imports against the layering (see docs/STYLE.md, 'The shape of the house'):\n" + \
        "\n".join(bad)


def test_layer_rules_catch_violations(tmp_path):
    _write(tmp_path, {
        "metrics/__init__.py": "", "metrics/m.py": "from ramvid import r\n",
        "ramvid/__init__.py": "", "ramvid/r.py": "def f():\n    import benchmarks.cli\n",
        "benchmarks/__init__.py": "", "benchmarks/__main__.py": "from benchmarks.cli import main\n",
        "benchmarks/cli/__init__.py": "main = None\n",
        "benchmarks/cli/x.py": "from benchmarks.cli import main\n",
        "benchmarks/probe.py": "from benchmarks.cli.x import main\n",
        "benchmarks/perf/script.py": "from benchmarks.cli import main\n",
    })
    bad = layer_violations(import_graph(tmp_path), tmp_path)
    assert [line.split(": ")[1].split(" (")[0] for line in bad] == [
        "benchmarks.probe imports benchmarks.cli.x", "metrics.m imports ramvid.r",
        "ramvid.r imports benchmarks.cli", "ramvid.r imports benchmarks.cli"]


if __name__ == "__main__":
    g = import_graph()
    found = [("cycle", c) for c in find_cycles(g)] + [("layering", v) for v in layer_violations(g)]
    for kind, line in found:
        print(f"{kind}: {line}")
    print(f"{len(g)} modules, {sum(map(len, g.values()))} import edges: "
          f"{sum(k == 'cycle' for k, _ in found)} cycles, {sum(k == 'layering' for k, _ in found)} "
          "layering violations")
    sys.exit(1 if found else 0)

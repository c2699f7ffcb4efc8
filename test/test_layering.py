"""Layers that point one way, read from the source with ``ast`` (nothing is imported):

- the library (``adapters/`` outside ``adapters/bin``) never imports the scripts
  (``adapters.bin``): what a script and a library module share lives in the library;
- a script never imports another script's private (``_``-prefixed) names: shared helpers
  live in library modules under public names;
- the library's modules import each other without loops (imports inside functions
  count: they only postpone the loop to the first call).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "adapters"

#: the one loop allowed: the registry loads its catalogue on first lookup (``get_method``
#: and ``available_methods`` import ``adapters.methods``) and the method modules register
#: themselves with ``@register`` (they import the registry).  Any other module in a loop
#: with them (``checkpoint -> inject -> registry -> methods -> fusion -> checkpoint`` was
#: one) fails, and without the catalogue-loading edge there is no loop at all.
CATALOGUE_EDGE = ("adapters.registry", "adapters.methods")


def in_catalogue(mod: str) -> bool:
    return mod in ("adapters.registry", "adapters.methods") or mod.startswith("adapters.methods.")


#: script imports of another script's private name, waiting for an edit of the importer
#: (each entry: importer path, module, name); remove an entry when its import is fixed
PENDING_PRIVATE: set = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict:
    """{module name: path} of every module of the package."""
    return {module_name(p): p for p in sorted(PKG.rglob("*.py")) if "__pycache__" not in p.parts}


def imports(path: Path, known: dict):
    """(line, imported module, names or None) of every import of ``path`` (module and
    function level), relative imports resolved; ``from pkg import sub`` yields the
    submodule ``pkg.sub`` (a package's ``__init__`` runs before any of its modules:
    that is not an edge)."""
    tree = ast.parse(path.read_text(), str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            names = [a.name for a in node.names]
            subs = [n for n in names if f"{mod}.{n}" in known]
            if len(subs) < len(names):  # names defined in ``mod`` itself
                yield node.lineno, mod, [n for n in names if n not in subs]
            for n in subs:
                yield node.lineno, f"{mod}.{n}", None


def is_script(mod: str) -> bool:
    return mod == "adapters.bin" or mod.startswith("adapters.bin.")


def test_the_library_never_imports_the_scripts():
    known = modules()
    bad = [f"{p.relative_to(ROOT)}:{line}: imports {mod}"
           for name, p in known.items() if not is_script(name)
           for line, mod, _ in imports(p, known) if is_script(mod)]
    assert not bad, "library modules import adapters.bin (move what they need into the library):\n" + "\n".join(bad)


def test_scripts_do_not_import_each_others_private_names():
    known = modules()
    bad, used = [], set()
    for name, p in known.items():
        if not is_script(name):
            continue
        rel = str(p.relative_to(ROOT))
        for line, mod, names in imports(p, known):
            if not (is_script(mod) and names):
                continue
            for n in names:
                if n.startswith("_"):
                    if (rel, mod, n) in PENDING_PRIVATE:
                        used.add((rel, mod, n))
                    else:
                        bad.append(f"{rel}:{line}: from {mod} import {n}")
    assert not bad, ("scripts import other scripts' private helpers (give them a public name in a "
                     "library module):\n" + "\n".join(bad))
    assert used == PENDING_PRIVATE, f"fixed: remove {sorted(PENDING_PRIVATE - used)} from PENDING_PRIVATE"


def library_graph(catalogue_edge=True) -> dict:
    known = modules()
    graph = {}
    for name, p in known.items():
        if is_script(name):
            continue
        graph[name] = {mod for _, mod, _ in imports(p, known)
                       if mod in known and mod != name and not is_script(mod)
                       and (catalogue_edge or (name, mod) != CATALOGUE_EDGE)}
    return graph


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def bad_loops(graph: dict) -> list:
    return [c for c in cycles(graph) if not all(in_catalogue(m) for m in c)]


def test_the_library_has_no_import_loops():
    graph = library_graph()
    assert CATALOGUE_EDGE[1] in graph[CATALOGUE_EDGE[0]], "no catalogue edge: drop the allowance"
    assert not cycles(library_graph(catalogue_edge=False))
    loops = bad_loops(graph)
    assert not loops, "import loops among library modules:\n" + "\n".join(
        " <-> ".join(c) + ": " + "; ".join(f"{a} -> {b}" for a in c for b in sorted(graph[a]) if b in c)
        for c in loops)


def test_the_checks_see_a_violation():
    """The walkers find what they look for (a script import, a private name, a loop)."""
    known = modules()
    assert any(mod == "adapters.upstreams" for _, mod, _ in imports(PKG / "bin" / "make_upstream.py", known))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # the loop of issue 21: fusion reading its stage-1 files through adapters.checkpoint
    g = library_graph()
    g["adapters.methods.fusion"].add("adapters.checkpoint")
    assert any({"adapters.checkpoint", "adapters.inject", "adapters.registry"} <= set(c) for c in bad_loops(g))
    g = library_graph(catalogue_edge=False)
    g["adapters.methods.hra"].add("adapters.methods.lora")
    g["adapters.methods.lora"].add("adapters.methods.hra")
    assert cycles(g)

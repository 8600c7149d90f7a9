"""The packages' imports run one way and never in a circle: `squeezeseg` at the bottom, `simulation` and
`domain_adapt` above it (beside each other, neither importing the other), `latte` on top. Every import
counts, also those inside functions and under TYPE_CHECKING, read from the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEVEL = {"squeezeseg": 0, "simulation": 1, "domain_adapt": 1, "latte": 2}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in LEVEL:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = f.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = f
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The project module ``name`` lives in (``a.b.func`` -> ``a.b``), or None outside the project."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, mods: dict[str, Path]) -> set[str]:
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        out.update(r for r in (_resolve(n, mods) for n in names) if r and r != module)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def test_imports_never_run_up_or_across_the_layers():
    wrong = []
    for mod, targets in _graph().items():
        top = mod.split(".")[0]
        for t in targets:
            other = t.split(".")[0]
            if other != top and LEVEL[other] >= LEVEL[top]:
                wrong.append(f"{mod} imports {t}")
    assert not wrong, "imports against the layers: " + "; ".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    # A package's __init__ importing its own submodules is not a cycle of the design.
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from squeezeseg.io import read_points\n")
    mods = {"x.m": src, "squeezeseg.io": ROOT / "squeezeseg" / "io" / "__init__.py"}
    assert _imports("x.m", src, mods) == {"squeezeseg.io"}

"""The house's rules, read from the code's own imports (DESIGN.md, "Layout"):

- models and services depend downward only:
  instances → provisioning → orders | approvals → assets → clusters → accounts → core
  (orders and approvals are siblings: neither imports the other);
- views, API, forms, URLs, admin and template tags sit on top and may read any app;
- core imports no app; the sandbox imports nothing of the product, and the product reaches
  it only through its HTTP API (the demo wiring in marketplace/demo.py reads its catalog);
- no import cycle between modules, inside an app or across apps, whether the import is at
  the top of a module or inside a function;
- no `*` import.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RANK = {
    "core": 0,
    "accounts": 1,
    "clusters": 2,
    "assets": 3,
    "approvals": 4,
    "orders": 4,
    "provisioning": 5,
    "instances": 6,
    "marketplace": 7,
}
# Modules of an app that sit on top (the HTTP layer and the admin) and may read any app.
ON_TOP = {"views", "api", "urls", "forms", "admin", "templatetags", "context_processors"}
SANDBOX_WIRING = {"marketplace.demo"}


def _modules():
    for app in [*RANK, "sandbox"]:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or "tests" in relative.parts:
                continue
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            yield name, path


def _imports(name, path):
    """(imported module, line, is a star import) for every import in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, False
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            star = any(alias.name == "*" for alias in node.names)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if _is_module(candidate) else base), node.lineno, star


def _is_module(dotted):
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _top_of(module):
    return module.split(".")[0]


def _graph():
    edges = defaultdict(set)
    found = []
    for name, path in _modules():
        for target, line, star in _imports(name, path):
            found.append((name, path, target, line, star))
            if _top_of(target) in {*RANK, "sandbox"} and _is_module(target) and target != name:
                edges[name].add(target)
    return edges, found


def test_no_module_imports_upward_and_the_sandbox_stays_apart():
    _edges, found = _graph()
    problems = []
    for name, path, target, line, _star in found:
        source_app, target_app = _top_of(name), _top_of(target)
        where = f"{path.relative_to(ROOT)}:{line} imports {target}"
        if source_app == "sandbox":
            if target_app in RANK:
                problems.append(f"{where}: the sandbox must not know the product")
            continue
        if target_app == "sandbox" and name not in SANDBOX_WIRING:
            problems.append(f"{where}: the product reaches the sandbox over its HTTP API only")
            continue
        if target_app not in RANK or target_app == source_app:
            continue
        if source_app == "core":
            problems.append(f"{where}: core is below every app")
            continue
        if ON_TOP & set(name.split(".")[1:]) or source_app == "marketplace":
            continue
        if RANK[target_app] > RANK[source_app] or (
            RANK[target_app] == RANK[source_app] and target_app != source_app
        ):
            problems.append(f"{where}: {source_app} may not depend on {target_app}")
    assert problems == [], "\n".join(problems)


def test_there_is_no_import_cycle():
    edges, _found = _graph()
    cycles = []
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert cycles == [], "\n".join(cycles)


def test_there_is_no_star_import():
    _edges, found = _graph()
    stars = [f"{path.relative_to(ROOT)}:{line}" for _n, path, _t, line, star in found if star]
    assert stars == []

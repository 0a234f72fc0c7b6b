"""The layers point down only (agent -> model -> tasks -> controllers) and modules import no cycle."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["controllers", "tasks", "model", "agent"]  # bottom to top


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Project modules imported anywhere in the file (function bodies too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in LAYERS}


def project_files():
    for layer in LAYERS:
        yield from (ROOT / layer).rglob("*.py")


def test_no_layer_imports_a_layer_above_it():
    bad = []
    for path in project_files():
        own = LAYERS.index(path.relative_to(ROOT).parts[0])
        for target in imports(path):
            if LAYERS.index(target.split(".")[0]) > own:
                bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_at_module_level():
    modules = {module_name(p): p for p in project_files()}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def top_level_imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        out = set()
        for node in tree.body:  # only what runs at import time
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.add(node.module)
        return {r for m in out if (r := resolve(m)) and m.split(".")[0] in LAYERS}

    graph = {m: top_level_imports(p) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in graph.get(m, ()):
            # a package importing its own submodules is how packages work, not a cycle
            if n.startswith(m + "."):
                continue
            if state.get(n) == 1 and not m.startswith(n + "."):
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)

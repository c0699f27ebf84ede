"""The package layout stays the pipeline over a small kernel (issue 10): no import cycle, no
import from a lower layer into a higher one, no module over ~450 lines without a written reason.

Layers, lowest first. The kernel is shared by every stage and imports none; a stage may import
the kernel and earlier stages only; the CLI, the quickstart and the package face sit on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "toolkit"
MAX_LINES = 450
#: A long module says why at its top, in a docstring line starting with this.
LENGTH_REASON = "Length:"

KERNEL = (
    "toolkit.errors",
    "toolkit.config",
    "toolkit.lazy",
    "toolkit.redact",
    "toolkit.thinking",
    "toolkit.schema",
    "toolkit.answers",
    "toolkit.backends",
    "toolkit.tables",
    "toolkit.tokens",
    "toolkit.io",
    "toolkit.hub_access",
    "toolkit.benchmarks",
    "toolkit.models",
    "toolkit.store",
    "toolkit.cards",
)
STAGES = (
    "toolkit.generation",
    "toolkit.formats",
    "toolkit.verification",
    "toolkit.curate",
    "toolkit.training",
    "toolkit.evaluation",
    "toolkit.publishing",
    "toolkit.chat",
)
TOP = ("toolkit.cli", "toolkit.quickstart", "toolkit.__main__")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int | None:
    """0 for the kernel, 1.. for the stages in pipeline order, a top layer for the CLI."""
    for prefix in KERNEL:
        if module == prefix or module.startswith(prefix + "."):
            return 0
    for index, prefix in enumerate(STAGES, start=1):
        if module == prefix or module.startswith(prefix + "."):
            return index
    for prefix in TOP:
        if module == prefix or module.startswith(prefix + "."):
            return len(STAGES) + 1
    return None


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """``toolkit.*`` modules imported by a file (all imports, or module-level ones only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module-level, including `if TYPE_CHECKING:` blocks? no: they never run
        nodes = [n for n in nodes if isinstance(n, ast.Import | ast.ImportFrom)]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("toolkit"))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("toolkit")
        ):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in _modules()
            )
    return found


def test_every_module_has_a_layer():
    unplaced = [m for m in _modules() if m != "toolkit" and _layer(m) is None]
    assert not unplaced, (
        f"modules outside the layer map (add them to tests/test_layout.py): {unplaced}"
    )


def test_no_import_from_a_higher_layer():
    violations = []
    for module, path in _modules().items():
        if module == "toolkit":  # the lazy face names every stage, imports none eagerly
            continue
        mine = _layer(module)
        for imported in _imports(path, top_level_only=False):
            theirs = _layer(imported)
            if mine is not None and theirs is not None and theirs > mine:
                violations.append(f"{module} (layer {mine}) imports {imported} (layer {theirs})")
    assert not violations, "\n".join(violations)


def test_no_import_cycle_at_module_level():
    graph = {
        module: {i for i in _imports(path, top_level_only=True) if i in _modules()}
        for module, path in _modules().items()
    }
    # a submodule import runs its package's __init__ first: follow that edge too
    for module in list(graph):
        parts = module.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in graph and parent != module:
                graph[module].add(parent)
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        seen[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if seen.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                # a package importing its own submodules is how packages work, not a cycle
                package = min(cycle, key=len)
                if all(c == package or c.startswith(package + ".") for c in cycle):
                    continue
                return cycle
            if target not in seen and (found := visit(target)) is not None:
                return found
        stack.pop()
        seen[node] = 2
        return None

    for module in sorted(graph):
        if module not in seen and (cycle := visit(module)) is not None:
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_long_modules_say_why():
    unexplained = []
    for module, path in _modules().items():
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if not any(line.strip().startswith(LENGTH_REASON) for line in docstring.splitlines()):
            unexplained.append(f"{module}: {lines} lines")
    assert not unexplained, (
        f"modules over {MAX_LINES} lines without a '{LENGTH_REASON}' line in their docstring: "
        f"{unexplained}"
    )

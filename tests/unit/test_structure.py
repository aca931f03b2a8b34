"""Limits that keep the package easy to follow (issue 15, item 5), checked on every test run:

- no module in ``src/`` over 400 lines, no function (or method) over 60 lines;
- no import cycle between finsentry modules, lazy imports inside functions included (an import
  moved into a function to dodge a cycle is still a cycle); imports under ``if TYPE_CHECKING:``
  are left out, they never run.

The checks read the source with :mod:`ast`; nothing is imported. The first tests check the
checkers themselves on small generated packages.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "finsentry"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_lines(text: str) -> int:
    """Lines of a source file (newline count, as ``wc -l`` reports them)."""
    return text.count("\n")


def long_modules(src: Path, limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """Modules under ``src`` longer than ``limit`` lines, by path relative to ``src``'s parent."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        lines = module_lines(path.read_text(encoding="utf-8"))
        if lines > limit:
            found[path.relative_to(src.parent).as_posix()] = lines
    return found


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines from ``def`` to the last line) of every function in ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = prefix + child.name
            yield name, (child.end_lineno or child.lineno) - child.lineno + 1
            yield from _functions(child, name + ".")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, prefix + child.name + ".")
        else:
            yield from _functions(child, prefix)


def long_functions(src: Path, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Functions under ``src`` longer than ``limit`` lines, as ``path:qualified name``."""
    found = {}
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        relative = path.relative_to(src.parent).as_posix()
        for name, lines in _functions(tree):
            if lines > limit:
                found[f"{relative}:{name}"] = lines
    return found


def _module_names(src: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``) for every module of ``package``."""
    names = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        names[".".join(parts)] = (path, is_package)
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``node``, however deeply nested, except under TYPE_CHECKING."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for branch in child.orelse:
                yield from _imports(ast.Module(body=[branch], type_ignores=[]))
        else:
            yield from _imports(child)


def _resolve(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The module ``name`` refers to: itself, or the longest enclosing module that exists."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(
    statement: ast.Import | ast.ImportFrom, here: str, is_package: bool, modules: dict[str, Any]
) -> Iterator[str | None]:
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            yield _resolve(alias.name, modules)
        return
    base = statement.module or ""
    if statement.level:  # relative: from the module's own package, one level up per extra dot
        package = here.split(".") if is_package else here.split(".")[:-1]
        package = package[: len(package) - (statement.level - 1)]
        base = ".".join([*package, *([statement.module] if statement.module else [])])
    for alias in statement.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in modules else _resolve(base, modules)


def import_graph(src: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (package-internal edges only)."""
    modules = _module_names(src, package)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges = {
            target
            for statement in _imports(tree)
            for target in _targets(statement, name, is_package, modules)
            if target is not None and target != name
        }
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return sorted(cycles)


# -- the checkers, on small generated packages --------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_long_modules_and_functions_are_found_with_their_qualified_names(tmp_path: Path) -> None:
    sixty = "".join(f"        x{i} = {i}\n" for i in range(60))
    src = _write(
        tmp_path / "src",
        {
            "pkg/__init__.py": "",
            "pkg/short.py": "def f():\n" + "".join(f"    y{i} = {i}\n" for i in range(59)),
            "pkg/long.py": "class C:\n    def method(self):\n" + sixty + "# filler\n" * 400,
        },
    )
    assert long_functions(src) == {"src/pkg/long.py:C.method": 61}
    assert long_modules(src) == {"src/pkg/long.py": 462}
    assert long_modules(src, limit=462) == {} and long_functions(src, limit=61) == {}


def test_import_cycles_are_found_through_lazy_and_relative_imports(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "src",
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "A = 1\ndef later():\n    from . import b\n",
            "pkg/b.py": "from pkg.sub.c import C\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from ..a import A\nC = A\n",
            "pkg/d.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from pkg.e import E\n"
                "else:\n    import json\n"
            ),
            "pkg/e.py": "import pkg.d\nE = 1\n",
        },
    )
    graph = import_graph(src, "pkg")
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.sub.c"] == {"pkg.a"}
    assert graph["pkg.d"] == set() and graph["pkg.e"] == {"pkg.d"}
    assert import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


# -- the limits on finsentry ----------------------------------------------------------------------


def test_no_module_over_400_lines() -> None:
    found = long_modules(SRC)
    assert not found, f"modules over {MAX_MODULE_LINES} lines (split them by concern): {found}"


def test_no_function_over_60_lines() -> None:
    found = long_functions(SRC)
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (extract named steps): {found}"


def test_no_import_cycles_between_finsentry_modules() -> None:
    graph = import_graph(SRC)
    assert "finsentry.pipeline" in graph and graph["finsentry.pipeline"]  # the graph was read
    cycles = import_cycles(graph)
    assert not cycles, (
        "import cycles (move what both need into a module below them, or invert the"
        f" dependency): {cycles}"
    )


def test_pipeline_stages_do_not_import_application_features() -> None:
    """Layout (issue 15, item 4): application features (``finsentry.app``) build on the pipeline's
    stages; a stage that imported a feature would tie the pipeline to the demo or the report.
    Only the command line and the features themselves may import ``finsentry.app``."""
    graph = import_graph(SRC)
    assert "finsentry.app.jobs" in graph  # the layout the test protects exists
    offenders = {
        module: sorted(t for t in targets if t.startswith("finsentry.app"))
        for module, targets in graph.items()
        if not module.startswith(("finsentry.app", "finsentry.cli"))
    }
    assert {m: t for m, t in offenders.items() if t} == {}

"""The layering is a contract: .importlinter (layers, independent compat styles and providers,
no sibling cycles) checked by import-linter, and no module import cycle anywhere."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

import tracker
from tests.support.processes import ROOT


def _lint_imports() -> str:
    """import-linter's own command next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is missing: pip install -e '.[test]'"
    return found


def test_the_import_contracts_hold():
    # PYTHONPATH=ROOT: the packages analysed are this tree's, whatever else is installed.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([_lint_imports(), "--config", str(ROOT / ".importlinter"), "--no-cache"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_imports_itself_through_others():
    """No import cycle between modules, counting imports inside functions (they run too);
    names imported only for annotations (under TYPE_CHECKING) never run, so they do not count."""
    graph = grimp.build_graph("tracker", "workers", exclude_type_checking_imports=True, cache_dir=None)
    assert Path(tracker.__file__).resolve().is_relative_to(ROOT)  # this tree's code, not an installed one
    cycles = [sorted(component) for component in _strongly_connected(graph) if len(component) > 1]
    assert cycles == []


def _strongly_connected(graph) -> list[list[str]]:
    """Tarjan's strongly connected components of the direct-import graph, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            step = next(imported, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.find_modules_directly_imported_by(step)))))
                elif step in on_stack:
                    low[module] = min(low[module], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                components.append(component)
    return components

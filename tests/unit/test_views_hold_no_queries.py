"""Views parse, call the repository, render: no module under tracker/http builds a SQL statement.

The command line and the adapters (Redis, SQS, SES setup) likewise reach the database only
through tracker/db/repository.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracker

HTTP = Path(tracker.__file__).parent / "http"
SHELLS = ("cli", "adapters")
STATEMENTS = {"select", "update", "delete", "insert", "text"}
# Methods that only a statement under construction has (str.join and friends are not here).
BUILDERS = {"where", "order_by", "with_for_update", "group_by", "having", "filter_by", "exec_driver_sql"}


def offences(source: str) -> list[str]:
    """What in one module's source builds a statement: imports of the constructors, builder calls."""
    found = []
    tree = ast.parse(source)
    models = {alias.asname or alias.name for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module == "tracker.db.models"
              for alias in node.names if alias.name[:1].isupper()}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [f"line {node.lineno}: imports {alias.name} from {node.module}"
                      for alias in node.names if alias.name in STATEMENTS]
        elif isinstance(node, ast.Attribute) and node.attr in STATEMENTS and _names_sqlalchemy(node.value):
            found.append(f"line {node.lineno}: uses sqlalchemy's {node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BUILDERS:
            found.append(f"line {node.lineno}: calls .{node.func.attr}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in models:
            # A model's column (Delivery.status): a condition or an ordering in the making.
            found.append(f"line {node.lineno}: names the column {node.value.id}.{node.attr}")
    return found


def _names_sqlalchemy(node: ast.expr) -> bool:
    """``sqlalchemy.select`` / ``sa.select``: the module reached by name (``import sqlalchemy as sa``)."""
    return isinstance(node, ast.Name) and node.id in ("sqlalchemy", "sa")


def test_no_module_under_http_builds_a_statement():
    modules = sorted(HTTP.rglob("*.py"))
    assert modules, f"no modules found under {HTTP}"
    found = {str(path.relative_to(HTTP.parent)): offences(path.read_text()) for path in modules}
    assert {name: lines for name, lines in found.items() if lines} == {}


@pytest.mark.parametrize("shell", SHELLS)
def test_no_command_or_adapter_builds_a_statement(shell):
    modules = sorted((HTTP.parent / shell).rglob("*.py"))
    assert modules, f"no modules found under tracker/{shell}"
    found = {str(path.relative_to(HTTP.parent)): offences(path.read_text()) for path in modules}
    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_check_sees_each_way_of_building_a_statement():
    assert offences("from sqlalchemy import select, and_") == ["line 1: imports select from sqlalchemy"]
    assert offences("from sqlalchemy.sql import update") == ["line 1: imports update from sqlalchemy.sql"]
    assert offences("import sqlalchemy as sa\nsa.delete(x)") == ["line 2: uses sqlalchemy's delete"]
    assert offences("q = statement.where(a == 1)") == ["line 1: calls .where()"]
    assert offences("q = statement.order_by(c)") == ["line 1: calls .order_by()"]
    assert offences("connection.exec_driver_sql('SELECT 1')") == ["line 1: calls .exec_driver_sql()"]
    assert offences("from tracker.db.models import Delivery, utcnow\nDelivery.status == 'SENT'") == [
        "line 2: names the column Delivery.status"]
    assert offences("from sqlalchemy import and_, or_\n', '.join(x)\nheaders.update(h)") == []
    assert offences("from tracker.db.models import Delivery\ndef f(d: Delivery):\n    return d.status") == []

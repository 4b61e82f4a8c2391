"""How list commands print: a table for people, or JSON (``--json``) for scripts."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from collections.abc import Sequence

import click

json_option = click.option("--json", "as_json", is_flag=True, help="print JSON (one array of objects) for scripts")


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str, as_json: bool) -> None:
    """``rows`` (dicts with at least ``columns``) as a table titled ``title``, or as a JSON array."""
    if as_json:
        click.echo(json.dumps([{name: _plain(value) for name, value in row.items()} for row in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in columns))
    Console().print(table)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)

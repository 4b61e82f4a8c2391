"""What a caller types into a "contains" search matches itself, wildcards and backslashes included."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, literal, select

from tracker.db.repository.like_patterns import ESCAPE, containing


@pytest.mark.parametrize(("text", "searched", "found"), [
    ("50%_off\\x sale", "50%_off\\x", True),
    ("50 percent off", "50%", False),  # % is no wildcard here
    ("a-b", "a_b", False),  # nor is _
    ("C:\\temp", "\\t", True),
    ("C:\\temp", "\\", True),
    ("plain", "lai", True),
])
def test_a_contains_search_takes_the_text_literally(text, searched, found):
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        assert connection.scalar(select(literal(text).like(containing(searched), escape=ESCAPE))) == found
    engine.dispose()

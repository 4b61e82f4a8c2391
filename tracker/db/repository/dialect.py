"""What differs between PostgreSQL and SQLite when building statements."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, model):
    """The dialect's INSERT, which knows ON CONFLICT on both PostgreSQL and SQLite."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def by_code_point(session: Session, text):
    """``text`` compared as the domain compares strings, by code point (a precedence, an event key).

    PostgreSQL compares text in the database's collation, and a common one (en-US, glibc's or
    ICU's) puts "a" before "B", weighs punctuation last and "~" (the rebuild's mark) before the
    digits: the database would keep another winner than the fold. "C" is the code points' order;
    SQLite's default BINARY compares UTF-8 bytes, the same order.
    """
    return text.collate("C") if session.get_bind().dialect.name == "postgresql" else text

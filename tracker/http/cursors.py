"""Opaque keyset positions: the cursors the list APIs hand out and take back."""
from __future__ import annotations

import base64
import json
from datetime import datetime

from marshmallow import ValidationError, fields

from tracker.http import moments
from tracker.providers.common import bounded_json


class Cursor(fields.Field):
    """An opaque keyset position: (updated_at, id) of the last item of the previous page."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        updated_at, last_id = value
        raw = json.dumps([updated_at.isoformat(), last_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            raw = base64.urlsafe_b64decode(_text(value) + "=" * (-len(value) % 4))
            stamp, last_id = bounded_json.loads(raw)
            updated_at = datetime.fromisoformat(stamp)
            # JSON true is a Python int too, and the database refuses to compare an id with it.
            if updated_at.tzinfo is None or not isinstance(last_id, int) or isinstance(last_id, bool):
                raise ValueError
            updated_at = moments.in_utc(updated_at)
        except (ValueError, TypeError):
            raise ValidationError("not a cursor this API returned") from None
        return updated_at, last_id


def _text(value) -> str:
    """A cursor arrives as a string; in a JSON body it may be anything else."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


class IdCursor(fields.Field):
    """An opaque keyset position over ids."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return int(base64.urlsafe_b64decode(_text(value) + "=" * (-len(value) % 4)).decode())
        except (ValueError, TypeError):
            raise ValidationError("not a cursor this API returned") from None

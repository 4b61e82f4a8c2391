"""The errors provider parsers raise: the payload can never become events.

    PayloadError            readable, but not a shape the provider's parser maps (a field
     |                      missing or of the wrong type, an unknown family)
     +-- UnreadablePayload  not the provider's format at all: not UTF-8, not JSON, XML or form
"""


class PayloadError(ValueError):
    """The payload can never be turned into events; the message says what is wrong.

    It is stored as the failed inbox row's error (and, for webhooks, answered to the
    sender), so it names the field and the value.
    """


class UnreadablePayload(PayloadError):
    """The bytes are not in the provider's format at all (not UTF-8, not JSON, XML or form)."""

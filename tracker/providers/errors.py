"""The one error every provider parser raises."""


class PayloadError(ValueError):
    """The payload can never be turned into events; the message says what is wrong.

    It is stored as the failed inbox row's error (and, for webhooks, answered to the
    sender), so it names the field and the value.
    """

"""The vocabulary of inbox rows: what kind of raw event a row holds, the states it moves through, retries."""
from datetime import timedelta


# kind: how to read the body
NOTIFICATION = "notification"  # an SNS Notification envelope (SES event inside)
SUBSCRIPTION_CONFIRMATION = "subscription_confirmation"
UNSUBSCRIBE_CONFIRMATION = "unsubscribe_confirmation"
RAW = "raw"  # an SES message delivered without its SNS envelope (SQS raw delivery)
WEBHOOK = "webhook"  # a provider webhook body, as sent
# A webhook body that is not storable text (not UTF-8, or holding NUL), kept base64-encoded.
WEBHOOK_BASE64 = "webhook_base64"
ACKNOWLEDGEMENT = "acknowledgement"  # recorded by the tracker itself (provider "tracker")

# state: pending -> processed | failed; failed -> pending (replay) | discarded.
# A replayed row is pending again with replayed_at and replay_count set.
PENDING = "pending"
PROCESSED = "processed"
FAILED = "failed"
DISCARDED = "discarded"
STATES = (PENDING, PROCESSED, FAILED, DISCARDED)

# failure_kind: why a row failed (or is waiting to retry). The first four fail at once
# (retrying cannot help until the code changes; then an operator replays the row).
PARSE_ERROR = "parse"  # not the provider's format at all: not UTF-8, not JSON, XML or form, or nested too deep
UNMAPPED_SHAPE = "unmapped_shape"  # readable, but no shape the provider's parser maps
UNSTORABLE = "unstorable"  # a value the database refuses (an id holding NUL, too long, out of range)
INTERNAL = "internal"  # an unexpected error in the tracker itself (a bug): the reason names the exception
DATABASE = "database"  # the database failed while applying it: retried with backoff
TRANSIENT = "transient"  # other passing trouble (confirming an SNS subscription): retried
EXHAUSTED = "exhausted"  # database or transient failures that outlasted max_attempts
RETRIED = (DATABASE, TRANSIENT)


def retry_delay(attempts: int) -> timedelta:
    """How long a row waits after its ``attempts``-th transient failure: 5 s doubling, at most 15 min."""
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), timedelta(minutes=15))

"""Intake's refusals (tracker.pipeline.intake.Refused) in the API's error shape, as the receivers answer them."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tracker.http.errors import ApiError
from tracker.pipeline import intake

# 4xx for what no retry can fix (SNS and the webhook providers stop retrying on it); 503
# for what may pass, so the sender retries.
STATUS = {
    intake.MALFORMED: 400,
    intake.INVALID_SIGNATURE: 403,
    intake.CERTIFICATE_UNAVAILABLE: 503,
    intake.TOPIC_NOT_ALLOWED: 403,
    intake.REPLAYED: 403,
}


def as_api_error(refusal: intake.Refused) -> ApiError:
    """``refusal`` as the ApiError a receiver raises (a passing one with Retry-After)."""
    status = STATUS.get(refusal.reason, 503 if refusal.passing else 400)
    return ApiError(status, refusal.reason, refusal.detail, {"Retry-After": "5"} if refusal.passing else None)


T = TypeVar("T")


def with_current_source(sources, token: str, handle: Callable[[], T]) -> T:
    """Run a receiver's ``handle`` (which looks the source up by ``token``), once more on the
    source read afresh when its cached copy may be stale: the insert found it changed, or it
    refused the request (a secret rotated or a topic allowed a moment ago, in another process)."""
    try:
        return handle()
    except intake.SourceChanged:
        sources.forget(token)
    except ApiError as refused:
        if refused.status not in (401, 403) or not sources.forget(token):
            raise
    try:
        return handle()
    except intake.SourceChanged:  # changed again, this very moment: the sender retries
        raise ApiError(503, "source_changed", "this source changed while the request was handled; retry",
                       {"Retry-After": "1"}) from None

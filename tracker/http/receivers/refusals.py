"""Intake's refusals (tracker.pipeline.intake.Refused) in the API's error shape, as the receivers answer them."""
from __future__ import annotations

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

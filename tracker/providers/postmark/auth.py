"""Is this POST really from Postmark? HTTP Basic credentials, checked in constant time. Pure.

Postmark signs nothing. Its documented protections are HTTP Basic credentials written into
the webhook URL (``https://<user>:<password>@host/hooks/postmark/<token>``), optional
custom headers, and an allowlist of its (changing) origin IPs (provider-formats.md §6.3;
Postmark developer docs, "Webhooks overview: protecting your webhook"). The tracker requires
the first: without credentials anyone who learns the hook URL could post events.

Secret format: ``"user:password"`` — exactly the user-info put in the webhook URL. The
password may itself contain ":"; the user name may not (RFC 7617). The secret is required.
A source without one, or with one that is not user:password, is the operator's mistake,
not the sender's: ValueError, which the receiver answers 503 (logged). A 403 would be
wrong there: Postmark documents that a 403 stops its retries, so genuine events posted
while the source is being fixed would be lost.

Replay and freshness: nothing in the request is signed, timestamped or single-use, so there
is no replay token (authenticate returns None) and no freshness window. Re-posts are
harmless anyway: events are deduplicated by their semantic event_key.

Status codes: 401 when the request carries no usable Basic credentials, 403 when they are
wrong. Postmark documents that a 403 stops its retries
(for inbound webhooks; the outbound schedule is [U]), which is right for forged requests.
"""
from __future__ import annotations

from tracker.providers.common.webhook_auth import WebhookRequest, require_basic_auth


def authenticate(request: WebhookRequest, secret: str | None) -> str | None:
    """Accept the request only with the source's Basic credentials; no replay token (None).

    ValueError when the source has no usable credentials configured (a 503, not the sender's fault).
    """
    if secret is None or not secret.strip():
        raise ValueError("no Basic credentials configured for this Postmark source")
    user, colon, _ = secret.partition(":")
    if not colon or not user:
        # A misconfigured secret can never match: say so instead of blaming the sender.
        raise ValueError("the configured Basic credentials for this Postmark source are not user:password")
    require_basic_auth(request, secret)
    return None

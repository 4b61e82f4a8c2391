"""Is this Infobip webhook from the account's Infobip subscription? Optional HTTP Basic. Pure.

Infobip signs nothing on a send request's ``notifyUrl``/``trackingUrl`` (provider-formats
§3.3 [U]); its Subscriptions API can present HTTP Basic credentials (security type BASIC)
[D]. It also offers HMAC, but the header name and the signed string are not documented
anywhere we could read [U], so we do not pretend to check one.

So an Infobip source is authenticated by two things:

1. the unguessable token in its hook path (``/hooks/infobip/<token>``), checked by the
   receiver before this module is called, and
2. optionally, HTTP Basic credentials: the source's secret.

Secret format: ``None`` (no secret configured: the path token alone authenticates), or
``"user:password"``, the username and password set in the Infobip subscription's BASIC
security settings; the password may contain colons, the username may not. Any other
secret is a configuration error (ValueError), not a reason to turn the sender away: an
answer in the 5xx range makes Infobip retry [U] while the operator fixes it.

Replay: Infobip sends no nonce or timestamp, so there is no replay token and no freshness
window; a replayed POST is a duplicate, and duplicates are harmless (events are deduped by
their semantic key).
"""
from __future__ import annotations

from tracker.providers.common.webhook_auth import WebhookRequest, require_basic_auth


def authenticate(request: WebhookRequest, secret: str | None) -> str | None:
    """Accept or raise AuthenticationFailed (401 no credentials, 403 wrong ones); always None.

    With no secret configured every request is accepted (the path token was checked);
    with ``user:password``, the request must carry exactly those Basic credentials.
    """
    if secret is None:
        return None
    username, colon, password = secret.partition(":")
    if not colon or not username or not password:
        raise ValueError(
            "an Infobip source's secret must be 'user:password' (the Basic credentials of "
            "its Infobip subscription) or unset"
        )
    require_basic_auth(request, secret)
    return None

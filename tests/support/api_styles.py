"""Test-side description of each API style: how to authenticate, and what its error body looks like.

Written from the seeds and the README (Infobip's requestError, SendCloud's envelope, Postman's
messages, the native {"error", "detail"}), importing nothing from tracker/, so that a shape
asserted here is the documented one, not whatever the code produces.
"""
from __future__ import annotations

import base64
import time

import jwt


def native_error(status: int, body) -> bool:
    """Native, admin and Elevate: {"error": "...", "detail": "..."}."""
    return (isinstance(body, dict) and set(body) == {"error", "detail"}
            and isinstance(body["error"], str) and isinstance(body["detail"], str))


def infobip_error(status: int, body) -> bool:
    """Infobip (seeds 001/002): {"requestError": {"serviceException": {"messageId", "text"}}}."""
    exception = (body or {}).get("requestError", {}).get("serviceException") if isinstance(body, dict) else None
    return (isinstance(exception, dict) and isinstance(exception.get("messageId"), str)
            and isinstance(exception.get("text"), str))


def sendcloud_error(status: int, body) -> bool:
    """SendCloud (seed 003): result false, a statusCode (statuscode for the documented rate limit), message, info."""
    return (isinstance(body, dict) and body.get("result") is False
            and isinstance(body.get("statusCode", body.get("statuscode")), int)
            and isinstance(body.get("message"), str) and body.get("info") == {})


def postman_error(status: int, body) -> bool:
    """Postman: a message; a 400 in its request validation's shape (statusCode, error, validation)."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return False
    if status == 400:
        validation = body.get("validation")
        return (body.get("statusCode") == 400 and body.get("error") == "Bad Request"
                and isinstance(validation, dict) and isinstance(validation.get("keys"), list))
    return True


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def app_key(key: str) -> dict:
    return {"Authorization": f"App {key}"}


def basic(key: str, username: str = "any-username") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()}


def elevate_jwt(key: str, kid: str | None = None, **claims) -> dict:
    """Elevate's Authorization: a JWT signed HS256 with the API key, its kid the key id."""
    parts = key.split("_")
    kid = (parts[1] if len(parts) > 1 else key) if kid is None else kid
    token = jwt.encode({"iat": int(time.time()), **claims}, key, algorithm="HS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


def is_error(style: str, response) -> bool:
    """The response is a refusal in ``style``'s own shape."""
    body = response.get_json(silent=True)
    if style == "sendcloud":
        return sendcloud_error(response.status_code, body)
    if not 400 <= response.status_code < 600:
        return False
    return {"native": native_error, "elevate": native_error, "infobip": infobip_error,
            "postman": postman_error}[style](response.status_code, body)

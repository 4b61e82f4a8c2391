"""Poison: authentic events no parser or database can take, from one account's sources.

Each is a recorded payload (tests/fixtures) with one field spoiled, sent and signed the
way its provider sends it (tests/support signers), so every one passes authentication and
is the tracker's to store and then to fail alone (DESIGN.md section 3b):
  - an Infobip report whose messageId holds U+0000, on a source authenticated by its path
    token alone (PostgreSQL refuses NUL in text);
  - a signed SES notification whose Message is JSON nested 20,000 deep;
  - a signed SES notification whose mail.messageId holds U+0000;
  - SendGrid, Mailgun and Postmark JSON bodies holding U+0000 in a message id;
  - a SendCloud form body holding %00 in its emailId;
  - a Postmark body holding a raw 0x00 byte (authenticated, but neither JSON nor storable as text).
"""
from __future__ import annotations

import json
import zlib

from bench.drills.sns_client import Send
from bench.drills.traffic import EVENTS_TOPIC
from tests.support.ses_events import for_message
from tests.support.sns_signing import SnsTestPki, notification
from tests.support.webhooks import infobip, mailgun, postmark, sendcloud, sendgrid

# provider -> the secret its source is created with (None: the hook token alone).
SOURCES = {"ses": None, "infobip": None, "sendcloud": sendcloud.EXAMPLE_SECRET,
           "sendgrid": sendgrid.EXAMPLE_SECRET, "mailgun": mailgun.EXAMPLE_SECRET,
           "postmark": postmark.EXAMPLE_SECRET}

DEPTH = 20_000


def volley(tokens: dict[str, str], pki: SnsTestPki, tag: str) -> list[Send]:
    """One of each poison, made unique by ``tag`` (so a second volley is not deduplicated)."""
    sends = []

    def add(name: str, provider: str, body: bytes, headers: dict[str, str]) -> None:
        sends.append(Send(f"{name}-{tag}", f"/hooks/{'sns' if provider == 'ses' else provider}/{tokens[provider]}",
                          body, headers))

    report = json.loads(infobip.fixture("dlr/delivered.json"))
    report["results"][0]["messageId"] = f"poison-{tag}\u0000"
    add("infobip-nul", "infobip", *infobip.signed_request(json.dumps(report).encode(), None))

    deep = "[" * DEPTH + "]" * DEPTH
    add("ses-deep", "ses", _signed_sns(pki, deep), {"Content-Type": "text/plain; charset=UTF-8"})
    nul_id = for_message("event/bounce.json", f"poison-{tag}\u0000", ["victim@example.com"])
    add("ses-nul", "ses", _signed_sns(pki, json.dumps(nul_id)), {"Content-Type": "text/plain; charset=UTF-8"})

    events = json.loads(sendgrid.fixture("bounce.json"))
    events[0]["sg_message_id"] += "\u0000"
    events[0]["sg_event_id"] = f"poison-{tag}"
    add("sendgrid-nul", "sendgrid", *sendgrid.signed_request(json.dumps(events).encode(), sendgrid.EXAMPLE_SECRET))

    failed = json.loads(mailgun.fixture("failed-permanent.json"))
    failed["event-data"]["message"]["headers"]["message-id"] += "\u0000"
    failed["event-data"]["id"] = f"poison-{tag}"
    add("mailgun-nul", "mailgun", *mailgun.signed_request(json.dumps(failed).encode(), mailgun.EXAMPLE_SECRET))

    bounce = json.loads(postmark.fixture("bounce-hard.json"))
    bounce["MessageID"] += "\u0000"
    bounce["ID"] = zlib.crc32(tag.encode())
    add("postmark-nul", "postmark", *postmark.signed_request(json.dumps(bounce).encode(), postmark.EXAMPLE_SECRET))
    raw = json.dumps({**bounce, "MessageID": f"poison-{tag}"}).encode().replace(b"poison-", b"poison\x00-", 1)
    add("postmark-raw-nul", "postmark", *postmark.signed_request(raw, postmark.EXAMPLE_SECRET))

    form = sendcloud.fixture("form/bounce.txt").decode().strip().replace("emailId=", f"emailId=poison-{tag}%00", 1)
    add("sendcloud-nul", "sendcloud", *sendcloud.signed_request(form.encode(), sendcloud.EXAMPLE_SECRET))
    return sends


def _signed_sns(pki: SnsTestPki, message: str) -> bytes:
    return json.dumps(pki.sign(notification(message, topic_arn=EVENTS_TOPIC))).encode()

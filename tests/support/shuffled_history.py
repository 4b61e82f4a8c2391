"""A seeded history of provider events for order tests: what SNS and SendGrid would POST, duplicates included.

Made from the recorded fixtures (tests/fixtures/ses/event, tests/fixtures/sendgrid), re-addressed:
SES messages of one or two recipients and SendGrid messages, their recipients drawn from a small
pool so that one address collects events (and soft bounces) from several messages and both
providers. The duplicates are the ones at-least-once senders make:

- an SNS redelivery: the same signed envelope (same MessageId) again;
- SES publishing one event twice, under a new SNS MessageId;
- the same bounce or complaint through the other notification family (notificationType);
- SendGrid retrying a POST (the same body), or sending an event again inside another batch.

Each item of ``posts`` is ("ses", message dict, SNS MessageId) or ("sendgrid", [event, ...]); a
test signs and POSTs them in the order it likes.
"""
from __future__ import annotations

import copy
import json
import random
import uuid
from datetime import datetime, timedelta

from tests.support.ses_events import for_message, ses_time
from tests.support.webhooks import sendgrid

ADDRESSES = [f"user{n}@example.com" for n in range(12)]

_SES_KINDS = ["send", "delivery", "delivery", "delay", "soft-bounce", "hard-bounce", "complaint", "open", "open",
              "click", "reject"]
_SENDGRID_KINDS = ["processed", "delivered", "delivered", "deferred", "bounce", "blocked", "open", "open", "click",
                   "spamreport", "dropped"]
_SENDGRID_FIXTURES = {"processed": "processed.json", "delivered": "delivered.json", "deferred": "deferred.json",
                      "bounce": "bounce.json", "blocked": "bounce-blocked.json", "open": "open.json",
                      "click": "click.json", "spamreport": "spamreport.json", "dropped": "dropped.json"}


def history(seed: int, *, ses_messages: int, sendgrid_messages: int, start: datetime) -> list[tuple]:
    """The posts of a seeded history, in the order the events happened (duplicates after their original)."""
    rng = random.Random(seed)
    posts: list[tuple] = []
    for number in range(ses_messages):
        posts += _ses_message(rng, f"ses-{seed}-{number}", start + timedelta(seconds=number))
    for number in range(sendgrid_messages):
        posts += _sendgrid_message(rng, f"sg{seed}x{number}", start + timedelta(seconds=number))
    return posts


def _ses_message(rng: random.Random, message_id: str, sent: datetime) -> list[tuple]:
    recipients = rng.sample(ADDRESSES, rng.choice([1, 1, 2]))
    # SES repeats one mail object in every event of a message (the fixtures' differ).
    mail = {**for_message("event/bounce.json", message_id, recipients)["mail"], "timestamp": ses_time(sent)}
    posts = []
    for n in range(rng.randint(2, 7)):
        kind = rng.choice(_SES_KINDS)
        at = ses_time(sent + timedelta(seconds=rng.randint(1, 900), milliseconds=rng.randint(0, 999)))
        whom = [rng.choice(recipients)]
        if kind in ("send", "reject"):
            message = for_message(f"event/{kind}.json", message_id, recipients)
        elif kind == "delivery":
            message = for_message("event/delivery.json", message_id, recipients,
                                  delivery={"timestamp": at, "recipients": whom})
        elif kind == "delay":
            message = for_message("event/delivery-delay.json", message_id, recipients, deliveryDelay={
                "timestamp": at, "delayedRecipients": [{"emailAddress": whom[0]}]})
        elif kind in ("soft-bounce", "hard-bounce"):
            message = for_message("event/bounce.json", message_id, recipients, bounce={
                "bounceType": "Transient" if kind == "soft-bounce" else "Permanent",
                "bounceSubType": rng.choice(["General", "MailboxFull"]), "feedbackId": f"fb-{message_id}-{n}",
                "timestamp": at, "bouncedRecipients": [{"emailAddress": whom[0], "action": "failed",
                                                         "status": "5.1.1", "diagnosticCode": f"smtp; 550 #{n}"}]})
        elif kind == "complaint":
            message = for_message("event/complaint.json", message_id, recipients, complaint={
                "timestamp": at, "feedbackId": f"fc-{message_id}-{n}",
                "complainedRecipients": [{"emailAddress": whom[0]}]})
        elif kind == "open":
            message = for_message("event/open.json", message_id, recipients, open={"timestamp": at})
        else:
            message = for_message("event/click.json", message_id, recipients,
                                  click={"timestamp": at, "link": f"https://example.com/{n}"})
        message["mail"] = mail
        sns_id = str(uuid.uuid4())
        posts.append(("ses", message, sns_id))
        if rng.random() < 0.2:
            posts.append(("ses", message, sns_id))  # SNS delivering the same notification again
        if rng.random() < 0.15:
            posts.append(("ses", message, str(uuid.uuid4())))  # SES publishing the event twice
        if kind in ("soft-bounce", "hard-bounce", "complaint") and rng.random() < 0.5:
            other = copy.deepcopy(message)
            other["notificationType"] = other.pop("eventType")  # the feedback notification of the same event
            posts.append(("ses", other, str(uuid.uuid4())))
    return posts


def _sendgrid_message(rng: random.Random, message_id: str, sent: datetime) -> list[tuple]:
    recipient = rng.choice(ADDRESSES)
    events = []
    for n in range(rng.randint(2, 6)):
        kind = rng.choice(_SENDGRID_KINDS)
        event = json.loads(sendgrid.fixture(_SENDGRID_FIXTURES[kind]))[0]
        event.update({"email": recipient, "timestamp": int(sent.timestamp()) + rng.randint(1, 900),
                      "sg_event_id": f"ev-{message_id}-{n}",
                      "sg_message_id": f"{message_id}.filterdrecv-5bd9c8d6c7-4tq8n-1-6632127A-{n}.0"})
        if "smtp-id" in event:
            event["smtp-id"] = f"<{message_id}@geopod-ismtpd-3>"
        events.append(event)
    posts = []
    rng.shuffle(events)
    while events:  # SendGrid batches events of one or more messages into arrays
        size = rng.randint(1, 3)
        batch, events = events[:size], events[size:]
        posts.append(("sendgrid", batch))
        if rng.random() < 0.2:
            posts.append(("sendgrid", batch))  # a retried POST: the same body
        if rng.random() < 0.1:
            posts.append(("sendgrid", [batch[0]]))  # the event again in another batch
    return posts

"""Test-side Infobip API client: the three Authorization styles, the seeds' examples, XML reading.

Imports nothing from tracker/, so the shapes asserted here are the seeds', not the code's.
"""
from __future__ import annotations

import base64
import json
import time
from xml.etree import ElementTree

import jwt

# shared/seeds/002, "Email delivery reports": the first report of the first example, and
# the XML form of the same report (whitespace between elements dropped).
SEED_REPORT = json.loads("""{
  "messageId": "bbcc6960-1fcb-497c-b7ea-83ccba41492e",
  "to": "recipient@infobip.com",
  "sentAt": "2016-08-31T13:25:18.477+0000",
  "doneAt": "2016-08-31T13:25:50.893+0000",
  "messageCount": 1,
  "price": {"pricePerMessage": 0, "currency": "UNKNOWN"},
  "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET",
             "description": "Message delivered to handset"},
  "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error",
            "permanent": false},
  "channel": "EMAIL"
}""")
SEED_REPORTS_XML = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<ReportsResponse><results><result>"
    "<messageId>bbcc6960-1fcb-497c-b7ea-83ccba41492e</messageId><to>recipient@infobip.com</to>"
    "<sentAt>2016-08-31T13:25:18.477+0000</sentAt><doneAt>2016-08-31T13:25:50.893+0000</doneAt>"
    "<messageCount>1</messageCount><price><pricePerMessage>0</pricePerMessage><currency>UNKNOWN</currency></price>"
    "<status><groupId>3</groupId><groupName>DELIVERED</groupName><id>5</id><name>DELIVERED_TO_HANDSET</name>"
    "<description>Message delivered to handset</description></status>"
    "<error><groupId>0</groupId><groupName>OK</groupName><id>0</id><name>NO_ERROR</name>"
    "<description>No Error</description><permanent>false</permanent></error>"
    "<channel>EMAIL</channel></result></results></ReportsResponse>"
)
SEED_BULK_ID = "lrzkq6gatdkxouhrkgni"  # the seed's "Get reports by bulkId" example
# shared/seeds/001, "Get email logs": a log's fields, in the documented order.
SEED_LOG_FIELDS = ["applicationId", "entityId", "bulkId", "messageId", "to", "from", "text", "sentAt", "doneAt",
                   "messageCount", "price", "status", "error"]
SEED_LOG_STATUS_FIELDS = ["groupId", "groupName", "id", "name", "description", "action"]
SEED_LOG_ERROR_FIELDS = ["groupId", "groupName", "id", "name", "description", "permanent"]
LOG_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"  # 2021-01-02T01:00:00.123Z
REPORT_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"  # 2016-08-31T13:25:18.477+0000


def app_auth(key: str) -> dict:
    return {"Authorization": f"App {key}"}


def basic_auth(key: str, username: str = "any-username") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()}


def bearer_auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def jwt_auth(key: str, **claims) -> dict:
    """A JWT signed HS256 with the API key, its kid the key id (the part after ``trk_``)."""
    token = jwt.encode({"iat": int(time.time()), **claims}, key, algorithm="HS256",
                       headers={"kid": key.split("_")[1]})
    return {"Authorization": f"Bearer {token}"}


def get(client, path: str, headers: dict, *, accept: str = "application/json", **params):
    return client.get(path, query_string=params, headers={**headers, "Accept": accept})


def shape(element: ElementTree.Element) -> list:
    """An XML element's tags, depth first, without the values: what must match the seed."""
    return [element.tag, [shape(child) for child in element]]


def service_exception(response) -> dict:
    """The ``requestError.serviceException`` of a JSON or XML error answer."""
    if response.mimetype == "application/xml":
        root = ElementTree.fromstring(response.data)
        assert root.tag == "requestError"
        exception = root.find("serviceException")
        return {"messageId": exception.findtext("messageId"), "text": exception.findtext("text")}
    body = response.get_json()
    assert set(body) == {"requestError"} and set(body["requestError"]) == {"serviceException"}
    return body["requestError"]["serviceException"]

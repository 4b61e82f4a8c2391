"""Fuzzing every read API (native, admin, Elevate, Infobip, SendCloud, Postman) and the native writes.

Valid requests of each API, then damaged, each parameter in turn: replaced by a wrong type,
a NUL or another control character, a huge or odd number, a deep or odd value; truncated,
repeated, dropped, bracketed, or joined by one that does not exist; path ids likewise; with
credentials missing, truncated, holding a NUL, of the wrong scheme, forged JWTs, or another
account's. The native writes get damaged JSON bodies (tests/support/mutations, as the hooks).
Whatever arrives: no 5xx, every refusal in the API style's own shape, and an answer never
carries another account's data.
TRACKER_FUZZ_EXAMPLES raises the number of examples per test (bench-sized runs).
"""
from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.support import api_styles, mutations
from tests.support.harness import drain, make_tenant
from tests.support.ses_events import bounce, for_message
from tests.support.sns_signing import notification

# Each example damages every parameter of its request in turn: 50 make about 3,000 requests.
EXAMPLES = int(os.environ.get("TRACKER_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="TRACKER_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# What a parameter (or a path segment, or a credential) may be replaced by.
ODD_TEXT = st.one_of(
    st.sampled_from(["", " ", "\x00", "a\x00b", "\x01", "\x1f\x7f", "\t", "%00", "-1", "0", "9" * 40, "-" + "9" * 400,
                     "1e309", "NaN", "Infinity", "true", "null", "[]", "{}", "[" * 300, "{\"a\":" * 100,
                     "\ufffd", "\u202e", "😀" * 50, "x" * 3000, "0001-01-01T00:00:00+14:00",
                     "9999-12-31T23:59:59-14:00", "2024-13-45T99:99:99Z", "lt:", "gt:x", "id:sideways",
                     "a@b", "@", "trk_", "trk_0123456789abcdef_", "Bearer", "\u0085", ";;;", ",|,"]),
    st.text(max_size=30),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.text(st.characters(max_codepoint=0x1f), min_size=1, max_size=5),
)


class Accounts:
    """Two accounts with deliveries of their own; what marks each one's data in an answer."""

    def __init__(self, app, pki):
        from tracker.db import repository
        from tracker.db.models import Account

        self.app = app
        self.acme, self.other = make_tenant(app, "acme", ["*"]), make_tenant(app, "other", ["*"])
        client = app.test_client()
        for tenant, name in ((self.acme, "acme"), (self.other, "other")):
            for message in (bounce(f"{name}-m1", f"bounced@{name}.example", "Permanent", f"{name}-f1",
                                   "2026-01-02T03:04:05.000Z"),
                            for_message("event/delivery.json", f"{name}-m2", [f"delivered@{name}.example"])):
                assert client.post(tenant.hook, data=json.dumps(pki.sign(notification(message)))).status_code == 200
            assert client.post("/api/v1/messages", headers=tenant.auth, json={
                "message_id": f"{name}-m3", "recipients": [f"pending@{name}.example"], "bulkId": f"{name}-bulk",
                "billRunType": "NORMAL", "labelId": f"{name}-label", "tags": {"tag": f"{name}-tag"}}).status_code == 201
        drain(app)
        services = app.extensions["tracker"]
        with services.db.transaction() as session:
            self.operator = {tenant.account_id: repository.create_api_key(
                session, session.get(Account, tenant.account_id), role="operator",
                secret_key=services.config.secret_key) for tenant in (self.acme, self.other)}
        self.ids = {tenant.account_id: self._ids(tenant) for tenant in (self.acme, self.other)}

    def _ids(self, tenant) -> dict:
        client = self.app.test_client()
        deliveries = client.get("/api/v1/deliveries", headers=tenant.auth).json["data"]
        events = client.get("/api/v1/admin/events?state=processed",
                            headers=api_styles.bearer(self.operator[tenant.account_id])).json["data"]
        return {"delivery": str(deliveries[0]["id"]), "event": str(events[0]["id"]),
                "address": f"bounced@{'acme' if tenant is self.acme else 'other'}.example"}

    @staticmethod
    def marks(name: str) -> tuple[str, ...]:
        """Strings only that account's data holds."""
        return (f"{name}.example", f"{name}-m1", f"{name}-m2", f"{name}-m3", f"{name}-bulk", f"{name}-label")


@pytest.fixture
def accounts(app, pki):
    return Accounts(app, pki)


# Each API: its style, how a key becomes credentials, and valid requests to damage
# (method, path with {delivery}/{event}/{address} to fill, parameters).
APIS = {
    "native": ("native", api_styles.bearer, [
        ("GET", "/api/v1/deliveries", {"status": "BOUNCED", "recipient": "bounced@acme.example", "limit": "5",
                                       "updated_after": "2020-01-01T00:00:00Z"}),
        ("GET", "/api/v1/deliveries/{delivery}/events", {}),
        ("GET", "/api/v1/suppressions", {"reason": "hard_bounce", "limit": "10"}),
        ("GET", "/api/v1/suppressions/{address}", {}),
        ("DELETE", "/api/v1/suppressions/{address}", {}),
        ("POST", "/api/v1/deliveries/{delivery}/acknowledge", {}),
        ("GET", "/api/v1/webhooks", {}),
    ]),
    "admin": ("native", "operator", [
        ("GET", "/api/v1/admin/events", {"state": "processed", "provider": "ses", "limit": "2",
                                         "since": "2020-01-01T00:00:00Z", "error_contains": "x"}),
        ("GET", "/api/v1/admin/events/{event}", {}),
        ("POST", "/api/v1/admin/events/{event}/replay", {}),
    ]),
    "elevate": ("elevate", api_styles.elevate_jwt, [
        ("GET", "/v1/email-status", {"page": "1", "pageSize": "10", "sort": "updatedDateTime:desc,id",
                                     "fields": "id,recipientEmail,status", "status": "BOUNCED",
                                     "bounceType": "PERMANENT", "createdDateTime": "gt:2020-01-01T00:00:00Z",
                                     "billRunType": "NORMAL", "billRunId": "7"}),
    ]),
    "infobip": ("infobip", api_styles.app_key, [
        ("GET", "/email/1/logs", {"messageId": "acme-m1", "to": "bounced@acme.example", "bulkId": "acme-bulk",
                                  "generalStatus": "UNDELIVERABLE", "sentSince": "2020-01-01T00:00:00.000Z",
                                  "limit": "10"}),
        ("GET", "/email/1/reports", {"bulkId": "acme-bulk", "messageId": "acme-m1", "limit": "10"}),
    ]),
    "sendcloud": ("sendcloud", None, [
        ("GET", "/apiv2/data/emailStatus", {"apiUser": "u", "apiKey": "{key}", "days": "3", "email": "a@b.c",
                                            "labelId": "acme-label", "start": "0", "limit": "10", "status": "4;1",
                                            "subStatus": "401"}),
        ("POST", "/apiv2/data/emailStatus", {"apiUser": "u", "apiKey": "{key}", "startDate": "2026-01-01",
                                             "endDate": "2026-01-20", "emailIds": "acme-m1$bounced@acme.example"}),
    ]),
    "postman": ("postman", api_styles.bearer, [
        ("GET", "/v1/transactional/email", {"limit": "5", "offset": "0", "status": "BOUNCED",
                                            "created_at[gte]": "2020-01-01", "sort_by": "+updated_at",
                                            "exclude_params": "true", "tag": "acme-tag"}),
        ("GET", "/v1/transactional/email/{delivery}", {}),
    ]),
}

# Credentials: the account's own most often (so that parameters are reached), and every damage.
CREDENTIALS = ["own", "own", "own", "own", "none", "truncated", "nul", "other account", "wrong scheme",
               "forged jwt", "odd"]


CONTROL = st.sampled_from(["\x00", "\x00", "\x01", "\x1f", "\x7f", "\x00\x00"])
ACTIONS = ["replace", "replace", "control", "control", "truncate", "drop", "repeat", "add", "bracket", "path"]


@st.composite
def damages(draw) -> dict:
    """One way to damage a request: applied to each of its parameters in turn (see damage())."""
    return {"action": draw(st.sampled_from(ACTIONS)), "odd": draw(ODD_TEXT), "control": draw(CONTROL),
            "at": draw(st.floats(0, 1)), "added": draw(st.sampled_from(["x", "\x00", "limit[]", "offset[0]",
                                                                         "created_at[eq]", "apiKey"])),
            "credentials": draw(st.sampled_from(CREDENTIALS)), "also": draw(st.booleans())}


def damage(how: dict, path: str, params: dict, index: int) -> tuple[str, list]:
    """``path`` and ``params`` (as pairs) with parameter ``index`` damaged ``how``; the path when there is none."""
    pairs = list(params.items())
    action, odd = how["action"], how["odd"]
    if action == "path" or not pairs:
        segment = quote(odd, safe="") or "0"
        return path.replace("{delivery}", segment).replace("{event}", segment).replace("{address}", segment), pairs
    name, value = pairs[index]
    cut = int(how["at"] * len(value))
    pairs[index] = {"replace": (name, odd), "control": (name, value[:cut] + how["control"] + value[cut:]),
                    "truncate": (name, value[:cut]), "bracket": (name + "[]", value)}.get(action, pairs[index])
    if action == "drop":
        pairs.pop(index)
    elif action == "repeat":
        pairs.append((name, odd))
    elif action == "add":
        pairs.append((how["added"], odd))
    if how["also"] and pairs:  # and a control character at the end of the last one
        pairs[-1] = (pairs[-1][0], pairs[-1][1] + how["control"])
    return path, pairs


def credentials(kind: str, key: str, other_key: str, shape, odd: str) -> tuple[dict, str | None]:
    """The Authorization header for ``kind`` (SendCloud: none, the key is a parameter); and the key it carries."""
    presented, carried = {
        "own": (key, key), "none": (None, None), "truncated": (key[:len(key) // 2], None),
        "nul": (key + "\x00", None), "other account": (other_key, other_key), "wrong scheme": (key, None),
        "forged jwt": (key, None), "odd": (odd, None)}[kind]
    if shape is None or presented is None:
        return {}, carried
    if kind == "wrong scheme":
        return {"Authorization": f"Token {presented}"}, None
    if kind == "odd":  # whatever follows the scheme, taken as is
        return ({} if any(c in odd for c in "\r\n") else {"Authorization": f"Bearer {odd}"}), None
    if kind == "forged jwt":
        return api_styles.elevate_jwt("not-the-key-but-long-enough-for-hs256", kid=key.split("_")[1]), None
    return shape(presented), carried


TEMPLATES = [(api, index) for api, (_, _, requests) in APIS.items() for index in range(len(requests))]


@pytest.mark.parametrize("api, template", TEMPLATES,
                         ids=[f"{api}:{APIS[api][2][index][0]} {APIS[api][2][index][1]}" for api, index in TEMPLATES])
def test_no_damaged_request_gets_a_5xx_or_another_account_s_data(accounts, api, template):
    style, shape, requests = APIS[api]
    method, path, params = requests[template]
    acme, other = accounts.acme, accounts.other
    key_of = {tenant.account_id: accounts.operator[tenant.account_id] if shape == "operator" else tenant.key
              for tenant in (acme, other)}
    key, other_key = key_of[acme.account_id], key_of[other.account_id]
    as_header = api_styles.bearer if shape == "operator" else shape
    client = accounts.app.test_client()

    @FUZZ
    @given(damages())
    def fuzz(how):
        headers, carried = credentials(how["credentials"], key, other_key, as_header, how["odd"])
        owner = other if carried == other_key else acme if carried == key else None
        ids = accounts.ids[(owner or acme).account_id]
        for index in range(max(len(params), 1)):
            damaged_path, pairs = damage(how, path, params, index)
            url = damaged_path.format(delivery=ids["delivery"], event=ids["event"], address=quote(ids["address"]))
            # SendCloud's key is a parameter: the credentials chosen, unless damage replaced it.
            pairs = [(name, (carried or "") if value == "{key}" else value) for name, value in pairs]
            if method == "POST" and api == "sendcloud":
                response = client.post(url, data=MultiDict(pairs), headers=headers)
            else:
                response = client.open(url, method=method, query_string=pairs, headers=headers)
            text = response.get_data(as_text=True)
            request = (method, url, pairs, how["credentials"])
            assert response.status_code < 500, (request, text[:300])
            body = response.get_json(silent=True, force=True)
            refused = response.status_code >= 400 or (isinstance(body, dict) and body.get("result") is False)
            if refused:
                assert api_styles.is_error(style, response), (request, text[:300])
            for name, tenant in (("acme", acme), ("other", other)):
                if tenant is not owner:
                    assert not any(mark in text for mark in accounts.marks(name)), (request, text[:300])

    fuzz()


# Valid bodies of the native writes, to damage with tests/support/mutations (the hooks' strategies).
BODIES = [
    ("POST", "/api/v1/messages", {"message_id": "acme-m9", "recipients": ["a@acme.example", "b@acme.example"],
                                  "from": "Billing <billing@acme.example>", "subject": "Invoice", "params": {"n": 1},
                                  "attachments_metadata": [{"fileName": "a.pdf", "fileSize": 10}],
                                  "billRunId": 7, "tags": {"team": "billing"}}),
    ("POST", "/api/v1/messages", {"messages": [{"recipients": ["c@acme.example"]}]}),
    ("PATCH", "/api/v1/messages/{message}", {"message_id": "acme-m10"}),
    ("POST", "/api/v1/webhooks", {"url": "https://127.0.0.1:9/hook", "statuses": ["BOUNCED"], "active": True}),
    ("POST", "/api/v1/deliveries/{delivery}/acknowledge", {"note": "seen"}),
    ("POST", "/api/v1/admin/events/replay", {"ids": [1, 2]}),
    ("POST", "/api/v1/admin/events/replay", {"filter": {"provider": "ses", "since": "2020-01-01T00:00:00Z"}}),
    ("POST", "/api/v1/admin/events/discard", {"ids": [1], "reason": "a test"}),
    ("POST", "/api/v1/admin/events/{event}/discard", {"reason": "a test"}),
]


def test_damaged_bodies_of_the_native_writes_never_get_a_5xx(accounts):
    acme, other = accounts.acme, accounts.other
    operator = accounts.operator[acme.account_id]
    message = accounts.app.test_client().post("/api/v1/messages", headers=acme.auth, json={
        "recipients": ["d@acme.example"]}).json["id"]

    @FUZZ
    @given(st.sampled_from(BODIES).flatmap(lambda b: st.tuples(st.just(b), mutations.mutated(b[2]),
                                                                st.integers(0, 400), st.booleans())))
    def fuzz(request):
        (method, path, _), body, cut, truncate = request
        ids = accounts.ids[acme.account_id]
        url = path.format(message=message, delivery=ids["delivery"], event=ids["event"])
        data = mutations.render(mutations.dumps(body))
        if truncate:
            data = data[:cut]
        response = accounts.app.test_client().open(url, method=method, data=data, headers={
            **api_styles.bearer(operator), "Content-Type": "application/json"})
        text = response.get_data(as_text=True)
        assert response.status_code < 500, (url, data[:300], text[:300])
        if response.status_code >= 400:
            assert api_styles.is_error("native", response), text[:300]
        assert not any(mark in text for mark in accounts.marks("other")), text[:300]

    fuzz()
    # Nothing written under one account shows under the other.
    for path in ("/api/v1/deliveries", "/api/v1/webhooks"):
        text = accounts.app.test_client().get(path, headers=other.auth).get_data(as_text=True)
        assert not any(mark in text for mark in accounts.marks("acme"))

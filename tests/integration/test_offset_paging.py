"""Offset-paged compatible APIs: a client walking the pages in order reaches every row, at any depth.

Past the offset cap a page is served only from where the previous page ended (a page mark,
tracker.http.page_marks); a jump there without walking is refused with the style's error.
Marks live in the process by default and in Redis when a broker is configured.
"""
from __future__ import annotations

from datetime import datetime, timedelta, UTC

import pytest

from tests.support.harness import make_tenant
from tracker.http.compat.elevate import views as compat_elevate
from tracker.http.compat.postman import views as compat_postman
from tracker.db.models import Delivery

ROWS, CAP = 23, 5


@pytest.fixture(params=["in process", "redis"])
def paged_app(request, make_app, monkeypatch):
    monkeypatch.setattr(compat_elevate, "MAX_OFFSET", CAP)
    monkeypatch.setattr(compat_postman, "MAX_OFFSET", CAP)
    if request.param == "redis":
        return make_app(broker_url=request.getfixturevalue("redis_url"))
    return make_app()


@pytest.fixture
def tenant_with_rows(paged_app):
    tenant = make_tenant(paged_app, "acme", ["*"])
    start = datetime(2026, 11, 28, tzinfo=UTC)
    with paged_app.extensions["tracker"].db.transaction() as session:
        for n in range(ROWS):
            moment = start + timedelta(minutes=n // 3)  # ties: three rows a minute
            session.add(Delivery(account_id=tenant.account_id, provider="ses", message_id=f"m-{n}",
                                 recipient=f"user{n}@example.com", status="DELIVERED", created_at=moment,
                                 updated_at=moment))
    return tenant


def walk(fetch) -> list[int]:
    """Every page in order until a short one; the ids in the order served."""
    seen, page = [], 0
    while True:
        items = fetch(page)
        seen += items
        if len(items) < 4:
            return seen
        page += 1


def test_elevate_pages_walked_in_order_reach_past_the_cap(paged_app, tenant_with_rows):
    client = paged_app.test_client()

    def fetch(page: int) -> list[int]:
        response = client.get("/v1/email-status", query_string={"page": page + 1, "pageSize": 4,
                                                                "sort": "createdDateTime:desc"},
                              headers=tenant_with_rows.auth)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json]

    ids = walk(fetch)
    everything = client.get("/v1/email-status", query_string={"pageSize": 100, "sort": "createdDateTime:desc"},
                            headers=tenant_with_rows.auth).json
    assert ids == [item["id"] for item in everything] and len(ids) == ROWS
    jump = client.get("/v1/email-status", query_string={"page": 5, "pageSize": 4, "sort": "updatedDateTime"},
                      headers=tenant_with_rows.auth)
    assert jump.status_code == 400 and "in order" in jump.json["detail"]


def test_postman_pages_walked_in_order_reach_past_the_cap(paged_app, tenant_with_rows):
    client = paged_app.test_client()
    more = []

    def fetch(page: int) -> list[int]:
        response = client.get("/v1/transactional/email", query_string={"offset": page * 4, "limit": 4},
                              headers=tenant_with_rows.auth)
        assert response.status_code == 200, response.json
        more.append(response.json["has_more"])
        return [item["id"] for item in response.json["data"]]

    ids = walk(fetch)
    everything = client.get("/v1/transactional/email", query_string={"limit": 100},
                            headers=tenant_with_rows.auth).json["data"]
    assert ids == [item["id"] for item in everything] and len(ids) == ROWS
    assert more == [True] * (len(more) - 1) + [False]
    jump = client.get("/v1/transactional/email", query_string={"offset": 12, "limit": 4, "sort_by": "+created_at"},
                      headers=tenant_with_rows.auth)
    assert jump.status_code == 400 and "in order" in jump.json["message"]


def test_a_mark_continues_only_the_query_that_left_it(paged_app, tenant_with_rows):
    """Same offset, other filter: no mark, so past the cap it is refused rather than served wrongly."""
    client = paged_app.test_client()
    for offset in (0, 4, 8):
        assert client.get("/v1/transactional/email", query_string={"offset": offset, "limit": 4},
                          headers=tenant_with_rows.auth).status_code == 200
    other = client.get("/v1/transactional/email", query_string={"offset": 12, "limit": 4, "status": "DELIVERED"},
                       headers=tenant_with_rows.auth)
    assert other.status_code == 400

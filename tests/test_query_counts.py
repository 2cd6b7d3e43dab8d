"""No page a member sees grows a query per row.

Each page is loaded with few rows and with many, and must make the same number of
queries both times, the number pinned in QUERIES. A change that makes a page cost more
queries on purpose updates the number here, in one place.
"""

import uuid

import pytest
from django.urls import reverse

from accounts import search
from accounts.models import Profile, User
from notifications.models import Delivery, Endpoint, Event

# Page -> queries it makes, whatever the number of rows. Logged in, two of them are
# Django's own: the session and the user. The directory counts nothing: it fetches one
# row more than a page shows to know whether there is a next page. An endpoint's page
# reads the endpoint, then its deliveries: docs/web.md says why that stays two queries.
QUERIES = {
    "home, anonymous": 0,
    "login": 0,
    "home": 2,
    "profile": 3,
    "people": 3,
    "people, searching": 3,
    "webhooks": 3,
    "endpoint": 4,
}


def members(count: int) -> list[User]:
    """`count` members with a profile, all in the directory's index."""
    users = User.objects.bulk_create(
        User(email=f"engineer{n}@example.com", password="!") for n in range(count)
    )
    Profile.objects.bulk_create(
        Profile(user=user, display_name=f"Engineer {n}", headline="Engineer", location="Oslo")
        for n, user in enumerate(users)
    )
    search.rebuild_entries(user.pk for user in users)
    return users


def endpoints(owner, count: int) -> list[Endpoint]:
    return Endpoint.objects.bulk_create(
        Endpoint(owner=owner, url=f"https://example.com/hook/{n}", events=[Event.PROFILE_UPDATED])
        for n in range(count)
    )


def deliveries(endpoint, count: int):
    Delivery.objects.bulk_create(
        Delivery(
            endpoint=endpoint,
            event=Event.PROFILE_UPDATED,
            payload={"n": n},
            webhook_id=f"msg_{uuid.uuid4().hex}",
            status=Delivery.Status.FAILED,
            attempts=8,
            last_status_code=500,
        )
        for n in range(count)
    )


def load(client, url, django_assert_num_queries, expected):
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("name, url", [("home, anonymous", "home"), ("login", "accounts:login")])
def test_anonymous_pages(client, db, django_assert_num_queries, name, url):
    load(client, reverse(url), django_assert_num_queries, QUERIES[name])


def test_home(client, member, django_assert_num_queries):
    load(client, reverse("home"), django_assert_num_queries, QUERIES["home"])


def test_profile(client, member, django_assert_num_queries):
    Profile.objects.create(user=member, display_name="Member", headline="Engineer")
    load(client, reverse("accounts:profile"), django_assert_num_queries, QUERIES["profile"])


@pytest.mark.parametrize("hits", [1, 50])
@pytest.mark.parametrize("name, query", [("people", ""), ("people, searching", "engineer")])
def test_people(client, member, django_assert_num_queries, hits, name, query):
    members(hits)

    response = load(
        client, reverse("people") + f"?q={query}", django_assert_num_queries, QUERIES[name]
    )

    assert len(response.context["entries"]) == min(hits, 20)
    assert (response.context["next_page"] == 2) == (hits > 20)


@pytest.mark.parametrize("rows", [1, 20])
def test_webhooks(client, member, django_assert_num_queries, rows):
    endpoints(member, rows)

    response = load(
        client, reverse("notifications:endpoints"), django_assert_num_queries, QUERIES["webhooks"]
    )

    assert response.content.count(b"https://example.com/hook/") == rows


@pytest.mark.parametrize("rows", [1, 20])
def test_endpoint_with_deliveries(client, member, django_assert_num_queries, rows):
    [endpoint] = endpoints(member, 1)
    deliveries(endpoint, rows)

    response = load(
        client,
        reverse("notifications:endpoint", args=[endpoint.pk]),
        django_assert_num_queries,
        QUERIES["endpoint"],
    )

    assert response.content.count(b'class="delivery delivery-failed"') == rows

"""The member directory: profile edits reach the search index through the worker."""

import re
import tracemalloc

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts import search
from accounts.models import Profile, SearchEntry, User
from accounts.tasks import update_search_entry

from .conftest import run_tasks
from .factories import ProfileFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="ranking needs PostgreSQL full-text search"
)


def save_profile(client, **fields):
    data = {"display_name": "", "headline": "", "bio": "", "location": ""} | fields
    return client.post(reverse("accounts:profile"), data)


def people(client, query):
    return client.get(reverse("people"), {"q": query}).text


@pytest.mark.usefixtures("database_backend")
def test_profile_edit_is_searchable_once_the_worker_has_run(client, member):
    response = save_profile(client, display_name="Grace Hopper", headline="Compiler pioneer")
    assert response.status_code == 302

    assert "Grace Hopper" not in people(client, "compiler")

    run_tasks()

    assert "Grace Hopper" in people(client, "compiler")


def test_entry_holds_the_profile_as_saved(client, member):
    save_profile(client, display_name="Ada", headline="Analyst", bio="Engines", location="London")

    entry = SearchEntry.objects.get(user=member)
    assert (entry.display_name, entry.headline, entry.bio, entry.location) == (
        "Ada",
        "Analyst",
        "Engines",
        "London",
    )
    assert entry.document == "ada analyst engines london"
    if connection.vendor == "postgresql":
        assert str(entry.vector) == "'ada':1A 'analyst':2B 'engin':3C 'london':4C"


@pytest.mark.usefixtures("database_backend")
def test_quick_edits_converge_on_the_last_save(client, member):
    for name in ["First", "Second", "Third"]:
        save_profile(client, display_name=name)

    run_tasks()
    # However often and in whatever order the tasks run, each reads the current row.
    update_search_entry.call(member.pk)

    assert SearchEntry.objects.get(user=member).display_name == "Third"
    assert "Third" in people(client, "third")
    assert "Second" not in people(client, "second")


def test_deactivated_and_deleted_members_leave_the_index(client, member, make_user):
    save_profile(client, display_name="Ann")
    other = make_user("bob@example.com", confirmed=True)
    Profile.objects.create(user=other, display_name="Bob")
    search.rebuild_entries([other.pk])
    # Both are in the index first, so their removal below is the test's doing.
    assert set(SearchEntry.objects.values_list("user_id", flat=True)) == {member.pk, other.pk}

    member.is_active = False
    member.save()
    other.delete()

    assert not SearchEntry.objects.exists()


def test_search_page_needs_a_login_and_explains_bad_input(client, member):
    response = client.get(reverse("people"), {"q": "x" * 500})
    assert response.status_code == 200
    assert "Ensure this value has at most 200 characters" in response.text

    response = client.get(reverse("people"), {"q": "nul\x00byte"})
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.text

    client.logout()
    assert client.get(reverse("people")).status_code == 302


@postgres_only
def test_ranking_puts_name_above_headline_above_bio(make_user):
    for email, fields in [
        ("bio@example.com", {"display_name": "Cat", "bio": "Loves gardening"}),
        ("name@example.com", {"display_name": "Garden Smith"}),
        ("headline@example.com", {"display_name": "Dan", "headline": "Gardener"}),
    ]:
        user = make_user(email, confirmed=True)
        Profile.objects.create(user=user, **fields)
        search.rebuild_entries([user.pk])

    results = [entry.display_name for entry in search.search("gardens")]

    # Stemming matches "gardening", "gardener" and "garden" to "gardens".
    assert results == ["Garden Smith", "Dan", "Cat"]


def test_rebuild_command_indexes_everyone_in_batches():
    users = UserFactory.create_batch(5)
    for user in users[:4]:
        ProfileFactory(user=user)
    users[3].is_active = False
    users[3].save()
    SearchEntry.objects.create(user=users[3], display_name="stale", document="stale")

    from io import StringIO

    out = StringIO()
    call_command("rebuild_search_index", batch_size=2, stdout=out)

    assert set(SearchEntry.objects.values_list("user_id", flat=True)) == {
        user.pk for user in users[:3]
    }
    assert "2/5 members checked" in out.getvalue()
    assert "Done: 3 of 5 members in the index." in out.getvalue()


def test_rebuild_memory_does_not_grow_with_the_table():
    def peak_memory_for(members):
        User.objects.all().delete()
        User.objects.bulk_create(
            User(email=f"m{n}@example.com", password="!") for n in range(members)
        )
        Profile.objects.bulk_create(
            Profile(user=user, display_name=f"Member {user.pk}", bio="words " * 20)
            for user in User.objects.all()
        )
        tracemalloc.start()
        call_command("rebuild_search_index", batch_size=500, verbosity=0, stdout=None)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert SearchEntry.objects.count() == members
        return peak

    small, large = peak_memory_for(1_000), peak_memory_for(10_000)

    assert large < small * 1.5


def test_directory_pages_through_results(client, member):
    for n in range(25):
        ProfileFactory(display_name=f"Person {n:02d}")
    search.rebuild_entries(Profile.objects.values_list("user_id", flat=True))

    first = client.get(reverse("people")).text
    second = client.get(reverse("people"), {"page": 2}).text

    # The pagination partial, above and below the results.
    assert first.count('page=2">Next</a>') == 2 and "Previous" not in first
    assert second.count('page=1">Previous</a>') == 2 and "Next" not in second
    assert "Person 00" in first and "Person 19" in first and "Person 20" not in first
    assert "Person 20" in second and "Person 24" in second
    assert client.get(reverse("people"), {"page": 3}).status_code == 404


def test_members_who_share_a_name_each_appear_on_exactly_one_page(client, member):
    # Sorting by name alone leaves ties in no particular order, and each page is its own
    # query: PostgreSQL may then show a member on two pages and another on none.
    for n in range(60):
        ProfileFactory(display_name="Sam Same", headline=f"headline-{n:02d}")
    search.rebuild_entries(Profile.objects.values_list("user_id", flat=True))

    shown = []
    for page in (1, 2, 3):
        text = client.get(reverse("people"), {"page": page}).text
        shown += re.findall(r"headline-\d\d", text)

    assert sorted(shown) == [f"headline-{n:02d}" for n in range(60)]


def test_a_directory_of_one_page_has_no_page_links(client, member):
    for n in range(20):
        ProfileFactory(display_name=f"Person {n:02d}")
    search.rebuild_entries(Profile.objects.values_list("user_id", flat=True))

    page = client.get(reverse("people")).text

    assert "Person 19" in page
    assert "Page 1" not in page and "Next" not in page and "Previous" not in page


@pytest.mark.parametrize("page", ["x", "0", "-1", str(2**63 // 20), str(2**63), "9" * 40])
def test_a_page_number_that_cannot_exist_is_not_found(client, member, page):
    assert client.get(reverse("people"), {"page": page}).status_code == 404


def test_a_page_past_the_last_one_served_costs_no_directory_query(
    client, member, django_assert_num_queries
):
    client.get(reverse("people"))  # The session and the member, loaded once.
    # Only the session and the user: no sort and skip of every member before page 501.
    with django_assert_num_queries(2):
        assert client.get(reverse("people"), {"page": 501}).status_code == 404

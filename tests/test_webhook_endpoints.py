"""Managing endpoints: registration, the SSRF guard, secrets, and who may see what."""

import base64
import re
import socket

import pytest
from django.urls import reverse

from notifications import ssrf, transport
from notifications.models import Delivery, Endpoint, Event

from .conftest import change_rate_limit

pytestmark = pytest.mark.django_db

NON_GLOBAL = [
    "127.0.0.1",  # loopback
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # shared (carrier-grade NAT)
    "0.0.0.0",  # unspecified
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "[::1]",
    "[fc00::1]",  # unique-local
    "[fe80::1]",  # link-local
    "[ff02::1]",  # multicast
    "[::]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
    "[::ffff:169.254.169.254]",
    "[64:ff9b::a01:203]",  # NAT64 of 10.1.2.3
    "[64:ff9b:1::808:808]",  # local-use NAT64: refused whole, even "embedding" 8.8.8.8
    "[64:ff9b:1:a01:203::]",  # ... and 10.1.2.3 embedded the /48 way
    "[::127.0.0.1]",  # IPv4-compatible loopback
    "[::8.8.8.8]",  # IPv4-compatible: deprecated, refused whatever it embeds
    "[::ffff:0:7f00:1]",  # SIIT (IPv4-translated) 127.0.0.1
    "[::ffff:0:a9fe:a9fe]",  # SIIT 169.254.169.254
    "[fec0::1]",  # site-local
    "[3fff::1]",  # documentation
    "168.63.129.16",  # Azure's WireServer, reachable only from inside Azure
]


def register(client, url, events=(Event.PROFILE_UPDATED,)):
    return client.post(
        reverse("notifications:endpoints"), {"url": url, "events": list(events), "is_active": "on"}
    )


@pytest.mark.parametrize("host", NON_GLOBAL)
def test_registration_refuses_non_global_addresses(client, member, host):
    response = register(client, f"http://{host}/hook")

    assert response.status_code == 200
    assert "not a public internet address" in response.text
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("host", NON_GLOBAL)
def test_delivery_refuses_non_global_addresses(host):
    # The check runs again at send time: an endpoint saved before a rule changed, or
    # a name that now resolves elsewhere, is refused before any connection is made.
    with pytest.raises(ssrf.UnsafeURL, match="not a public internet address"):
        transport.post(f"http://{host}/hook", b"{}", {}, timeout=5)


def test_host_name_resolving_to_a_private_address_is_refused(client, member):
    response = register(client, "http://localhost:8080/hook")

    assert "localhost is not a public internet address" in response.text
    # What an internal name resolves to is none of a member's business.
    assert "127.0.0.1" not in response.text and "::1" not in response.text
    assert not Endpoint.objects.exists()


def test_a_stranger_cannot_tell_an_internal_name_from_one_that_does_not_exist(
    client, member, monkeypatch
):
    def resolve(host, port, *args, **kwargs):
        if host == "db.internal":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    def error_for(url):
        page = register(client, url).text
        return re.search(r'<ul class="errorlist.*?</ul>', page, re.S).group(0)

    internal = error_for("https://db.internal/hook")
    missing = error_for("https://nothing.internal/hook")

    assert internal.replace("db.internal", "NAME") == missing.replace("nothing.internal", "NAME")
    assert "is not a public internet address, or doesn&#x27;t resolve" in internal
    assert not Endpoint.objects.exists()


def test_any_private_answer_among_public_ones_is_refused(client, member, monkeypatch):
    def resolves_to_both(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolves_to_both)

    response = register(client, "https://mixed.example/hook")

    assert "mixed.example is not a public internet address" in response.text
    assert "10.0.0.5" not in response.text
    assert not Endpoint.objects.exists()


def test_delivery_connects_to_the_address_it_checked(member, receiver, monkeypatch, settings):
    """DNS rebinding: the name is resolved once, checked, and that address is used."""
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "hooks.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        # First answer: the receiver. Any later answer would point somewhere else.
        target = "127.0.0.1" if len(lookups) == 1 else "192.0.2.1"
        return real_getaddrinfo(target, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.example:{receiver.port}/hooks"

    response = transport.post(url, b"{}", {"Content-Type": "application/json"}, timeout=5)

    assert response.status == 200
    assert lookups == ["hooks.example"]
    assert receiver.received[0].headers["host"] == f"hooks.example:{receiver.port}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "must start with http:// or https://"),
        ("file:///etc/passwd", "Enter a valid URL."),
        ("http://user:pw@93.184.215.14/hook", "carry a user name or password"),
        ("not a url", "Enter a valid URL."),
    ],
)
def test_registration_explains_unusable_urls(client, member, url, message):
    response = register(client, url)

    assert message in response.text
    assert not Endpoint.objects.exists()


def test_public_url_is_registered_with_a_standard_secret(client, member):
    response = register(client, "https://93.184.215.14/hook")

    endpoint = Endpoint.objects.get()
    assert (
        response["Location"] == reverse("notifications:endpoint", args=[endpoint.pk]) + "?reveal=1"
    )
    assert endpoint.owner == member
    assert endpoint.secret.startswith("whsec_")
    assert 24 <= len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) <= 64
    page = client.get(response["Location"])
    assert endpoint.secret in page.text
    assert "no-store" in page["Cache-Control"]
    assert (
        endpoint.secret
        not in client.get(reverse("notifications:endpoint", args=[endpoint.pk])).text
    )


def test_rotating_the_secret_replaces_it(client, member):
    endpoint = Endpoint.objects.create(owner=member, url="https://93.184.215.14/", events=[])
    old = endpoint.secret

    client.post(reverse("notifications:rotate_secret", args=[endpoint.pk]))

    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.startswith("whsec_")


def test_members_see_and_touch_only_their_own_endpoints(client, member, make_user):
    other = make_user("other@example.com", confirmed=True)
    theirs = Endpoint.objects.create(owner=other, url="https://93.184.215.14/theirs", events=[])
    delivery = Delivery.objects.create(
        endpoint=theirs, event=Event.TEST, payload={}, status=Delivery.Status.FAILED
    )

    listing = client.get(reverse("notifications:endpoints")).text
    assert "theirs" not in listing
    for name, args in [
        ("endpoint", [theirs.pk]),
        ("delivery_log", [theirs.pk]),
    ]:
        assert client.get(reverse(f"notifications:{name}", args=args)).status_code == 404
    for name, args in [
        ("endpoint", [theirs.pk]),
        ("rotate_secret", [theirs.pk]),
        ("send_test", [theirs.pk]),
        ("delete", [theirs.pk]),
        ("redeliver", [theirs.pk, delivery.pk]),
    ]:
        response = client.post(reverse(f"notifications:{name}", args=args), {"url": "x"})
        assert response.status_code == 404, name

    theirs.refresh_from_db()
    assert theirs.url.endswith("/theirs")
    assert Delivery.objects.filter(endpoint=theirs).count() == 1


def test_webhook_pages_need_a_login(client):
    response = client.get(reverse("notifications:endpoints"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_is_public_treats_public_addresses_as_public():
    import ipaddress

    for address in ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:8.8.8.8"]:
        assert ssrf.is_public(ipaddress.ip_address(address))


def test_url_checks_are_counted_per_member_before_any_lookup(client, member, monkeypatch, settings):
    # Each check is a DNS lookup a web thread waits for: a member pointing URLs at a name
    # server that never answers must not get to hold the threads as often as they like.
    change_rate_limit(settings, "webhook_url_check", count=3)
    lookups = []

    def resolve(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    pages = [register(client, f"https://hooks{n}.example.com/in").text for n in range(4)]

    assert len(lookups) == 3
    assert "Too many URLs checked" in pages[-1]
    assert Endpoint.objects.filter(owner=member).count() == 3


def test_changing_only_the_events_checks_no_url(client, member, settings):
    change_rate_limit(settings, "webhook_url_check", count=1)
    register(client, "https://93.184.215.14/hook")
    endpoint = Endpoint.objects.get()
    edit = reverse("notifications:endpoint", args=[endpoint.pk])

    for events in ([Event.EMAIL_CONFIRMED], [Event.PROFILE_UPDATED]):
        response = client.post(edit, {"url": endpoint.url, "events": events})
        assert response.status_code == 302

    endpoint.refresh_from_db()
    assert endpoint.events == [Event.PROFILE_UPDATED]
    response = client.post(edit, {"url": "https://93.184.215.14/other", "events": events})
    assert "Too many URLs checked" in response.text

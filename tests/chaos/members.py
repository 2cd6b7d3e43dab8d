"""Simulated members: each one a browser of its own (cookies, a client address, the CSRF
token read from each form) going through the site's pages over real HTTP."""

import random
import re
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar

# Every password here is a member's own, long enough for the validators.
PASSWORD_TEMPLATE = "chaos-{number}-Correct-Horse"


@dataclass
class Exchange:
    """One request and its answer (status 0: no answer at all), on the monotonic clock."""

    member: str
    method: str
    path: str
    status: int
    started: float
    ended: float
    error: str = ""


@dataclass
class Control:
    name: str
    kind: str
    value: str = ""
    checked: bool = False
    id: str = ""
    label: str = ""


@dataclass
class Form:
    action: str
    controls: list[Control] = field(default_factory=list)

    def control(self, label: str) -> Control:
        for control in self.controls:
            if control.label == label:
                return control
        labels = [control.label for control in self.controls if control.label]
        raise AssertionError(f"No field labelled {label!r} in the form (labels: {labels}).")

    def fill(self, values: dict[str, str], check: tuple[str, ...] = ()) -> list[tuple]:
        """The form's data as a browser posts it, with these fields filled and boxes ticked."""
        for label, value in values.items():
            self.control(label).value = value
        for label in check:
            self.control(label).checked = True
        data = []
        for control in self.controls:
            if control.kind in ("checkbox", "radio"):
                if control.checked:
                    data.append((control.name, control.value or "on"))
            elif control.kind not in ("submit", "button"):
                data.append((control.name, control.value))
        return data


class FormParser(HTMLParser):
    """The forms of a page, with each field's label (a <label for=...>, or one around it).

    Inputs and text areas only: none of the forms a member fills has a <select>.
    """

    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []
        self.labels: dict[str, str] = {}
        self.label: dict | None = None
        self.textarea: Control | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(attrs.get("action", "")))
        elif tag == "label":
            self.label = {"for": attrs.get("for"), "text": [], "inside": []}
        elif tag in ("input", "textarea", "button") and self.forms and "name" in attrs:
            kind = attrs.get("type", "text" if tag == "input" else tag).lower()
            control = Control(
                attrs["name"], kind, attrs.get("value", ""), "checked" in attrs, attrs.get("id", "")
            )
            self.forms[-1].controls.append(control)
            if tag == "textarea":
                self.textarea = control
            if self.label is not None:
                self.label["inside"].append(control)

    def handle_endtag(self, tag):
        if tag == "label" and self.label is not None:
            text = " ".join("".join(self.label["text"]).split())
            if self.label["for"]:
                self.labels[self.label["for"]] = text
            for control in self.label["inside"]:
                control.label = text
            self.label = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.label is not None:
            self.label["text"].append(data)
        if self.textarea is not None:
            self.textarea.value += data

    def close(self):
        super().close()
        for form in self.forms:
            for control in form.controls:
                control.label = self.labels.get(control.id, control.label)


@dataclass
class Page:
    url: str
    status: int
    body: str = ""
    location: str = ""

    def form_with(self, label: str) -> Form:
        parser = FormParser()
        parser.feed(self.body)
        parser.close()
        for form in parser.forms:
            if any(control.label == label for control in form.controls):
                return form
        raise AssertionError(f"No form with a field labelled {label!r} at {self.url}.")

    def errors(self) -> str:
        found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', self.body, re.S)
        return " ".join(re.sub(r"<[^>]+>", " ", " ".join(found)).split())[:300]


class KeepRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to record, not something to follow silently."""

    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One visitor: a cookie jar, and a client address of its own in X-Forwarded-For, so
    the site's per-client rate limits count this visitor alone (TRUSTED_PROXY_COUNT=1)."""

    def __init__(self, site_url: str, name: str, address: str, exchanges: list[Exchange]):
        self.site_url = site_url
        self.name = name
        self.address = address
        self.exchanges = exchanges
        cookies = urllib.request.HTTPCookieProcessor(CookieJar())
        self.opener = urllib.request.build_opener(cookies, KeepRedirects)

    def open(self, path: str, data: list[tuple] | None = None) -> Page:
        url = urllib.parse.urljoin(self.site_url, path)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, body, headers={"X-Forwarded-For": self.address})
        started = time.monotonic()
        page = Page(url, 0)
        error = ""
        try:
            with self.opener.open(request, timeout=30) as response:
                page = Page(url, response.status, response.read().decode())
        except urllib.error.HTTPError as answer:
            with answer:
                page = Page(url, answer.code, answer.read().decode(errors="replace"))
                page.location = answer.headers.get("Location", "")
        except OSError as failure:  # Refused, reset, timed out: no answer at all.
            error = f"{type(failure).__name__}: {failure}"
        self.exchanges.append(
            Exchange(
                self.name,
                request.get_method(),
                urllib.parse.urlsplit(url).path,
                page.status,
                started,
                time.monotonic(),
                error,
            )
        )
        return page


class GaveUp(Exception):
    """The member stopped: the load ended first, or the site refused them."""

    def __init__(self, reason: str, refused: bool = False):
        super().__init__(reason)
        self.refused = refused


@dataclass
class Story:
    """What the members share: where the site and the peers are, and the time to stop."""

    site_url: str
    receiver_url: str
    smtp: object  # Its `messages` are every mail sent so far (servers.FlakySMTP).
    deadline: float
    exchanges: list[Exchange] = field(default_factory=list)
    resets: list[str] = field(default_factory=list)
    # Members who stopped early, and those of them the site refused.
    notes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Member:
    """Signs up, confirms from the mail, logs in, registers a webhook endpoint, saves the
    profile three times, and perhaps asks for a password reset; a server error or no
    answer is met the way a person meets it, by trying again a second later."""

    def __init__(self, number: int, story: Story, rng: random.Random, asks_reset: bool):
        self.number = number
        self.email = f"member{number}@example.com"
        self.password = PASSWORD_TEMPLATE.format(number=number)
        self.story = story
        self.rng = rng
        self.asks_reset = asks_reset
        # 198.18.0.0/15 is for tests; 198.19.x keeps clear of the browser tests' 198.18.x.
        address = f"198.19.0.{number}"
        self.browser = Browser(story.site_url, f"member{number}", address, story.exchanges)
        self.step = "start"

    def live(self):
        try:
            self.sign_up()
            if self.asks_reset:
                self.pause()
                self.ask_for_password_reset()
            self.confirm(self.wait_for_confirmation_link())
            self.log_in()
            self.add_endpoint()
            for edit in range(3):
                self.pause()
                self.save_profile(edit)
            self.step = "done"
        except GaveUp as reason:
            note = f"{self.email} stopped at {self.step}: {reason}"
            with self.story.lock:
                self.story.notes.append(note)
                if reason.refused:
                    self.story.refusals.append(note)

    def pause(self):
        time.sleep(self.rng.uniform(0.5, 3))

    def sign_up(self):
        self.step = "signup"
        fields = {"Email": self.email, "Password": self.password}
        fields["Password confirmation"] = self.password
        self.submit("/accounts/signup/", fields)

    def ask_for_password_reset(self):
        self.step = "password reset"
        self.submit("/accounts/password-reset/", {"Email": self.email})
        with self.story.lock:
            self.story.resets.append(self.email)

    def wait_for_confirmation_link(self) -> str:
        self.step = "waiting for the confirmation mail"
        while time.monotonic() < self.story.deadline:
            for message in self.story.smtp.messages:
                if message["To"] == self.email and (link := link_in(message, CONFIRM_LINK)):
                    return link
            time.sleep(0.5)
        raise GaveUp("no confirmation link by the end of the load")

    def confirm(self, link: str):
        self.step = "confirm"
        page = self.get(link)
        if "This link has already been used" in page.body:
            return  # An earlier try confirmed it, and its answer was a server error.
        self.submit(link, {"Password": self.password}, page=page)

    def log_in(self):
        self.step = "login"
        self.submit("/accounts/login/", {"Email": self.email, "Password": self.password})

    def add_endpoint(self):
        self.step = "webhook endpoint"
        self.submit(
            "/notifications/webhooks/",
            {"URL": self.story.receiver_url},
            check=("Profile updated",),
        )

    def save_profile(self, edit: int):
        self.step = f"profile save {edit + 1}"
        self.submit("/accounts/profile/", {"Display name": f"Member {self.number} ({edit + 1})"})

    def get(self, path: str) -> Page:
        return self.retrying(lambda: self.browser.open(path), expect=200)

    def submit(self, path: str, fields: dict, check=(), page: Page | None = None) -> Page:
        """Fill the form on `path` (or on `page`, already fetched) and post it, expecting
        the redirect that means success."""
        pages = [page] if page else []

        def attempt():
            # After a failed post the form is fetched again, with a fresh CSRF token.
            form = (pages.pop() if pages else self.get(path)).form_with(next(iter(fields)))
            return self.browser.open(form.action or path, form.fill(fields, check))

        return self.retrying(attempt, expect=302)

    def retrying(self, attempt, expect: int) -> Page:
        while True:
            page = attempt()
            if page.status == expect:
                return page
            if page.status not in (0, 500, 502, 503, 504):
                reason = f"{page.status} from {page.url}: {page.errors() or page.body[:200]}"
                raise GaveUp(reason, refused=True)
            if time.monotonic() > self.story.deadline:
                raise GaveUp(f"still {page.status} from {page.url} at the end of the load")
            time.sleep(1)


CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/accounts/confirm/[^/\s]+/)")
RESET_LINK = re.compile(r"https?://[^/\s]+(/accounts/password-reset/[^/\s]+/[^/\s]+/)")


def link_in(message, link: re.Pattern) -> str | None:
    """The path of the first link of that kind in the mail's text, if it has one."""
    found = link.search(message.get_body(("plain",)).get_content())
    return found.group(1) if found else None

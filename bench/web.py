"""Web benchmarks: what a password hash costs, and what a crowd at the door does to pages.

Side by side in one run, Django's defaults (PBKDF2 first, 2 sync gunicorn workers) against
this site's configuration (Argon2id first, config/gunicorn.py as shipped), each started
with the Procfile's web command on a scratch PostgreSQL database (DATABASE_URL's server):

1. CPU seconds per password hash, per hasher.
2. A burst of 40 signups at once while 20 clients load pages (/, /accounts/login/,
   /healthz): signup p95 and page-load p95 during the burst, and page-load p95 of the
   same 20 clients when nothing else is happening. Twice: with clients that ask again
   as soon as they have an answer (the harsher load), and with clients that keep
   a schedule.
3. Requests per second for six pages, anonymous and logged in.

Load generators: the burst and the page clients are Python threads (http.client, a new
connection per request); requests/s comes from Debian's wrk (2 threads, 16 connections),
installed with apt-get if missing.

Why both kinds of page clients. Clients that ask again at once hide a stall: one stuck
for 5 s sends one request in that time, and it counts once. Against a site that keeps
answering they also take every cycle the signups leave, so signups look slower there.
Clients on a schedule (each one every PAGE_INTERVAL, as people keep arriving) time a
page load from when it was due, so a load that had to wait for the one before counts
that wait too, as wrk2 does ("coordinated omission").

Run alone: uv run python -m bench.web
"""

import http.client
import json
import os
import re
import runpy
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench import scratch
from bench.report import percentile, print_table

SIGNUPS = 40
PAGE_CLIENTS = 20
# Clients on a schedule load 4 pages a second each, 80 in all: about a tenth of what
# the site serves idle.
PAGE_INTERVAL = 0.25
PAGE_CLIENT_KINDS = [
    ("page clients asking at once", None),
    ("page clients on a schedule", PAGE_INTERVAL),
]
CROWD_PAGES = ["/", "/accounts/login/", "/healthz"]
IDLE_SECONDS = 6
HASHES_PER_HASHER = 5
WRK_SECONDS = 5
WRK_CONNECTIONS = 16
PASSWORD = "a-long-enough-passphrase"
MEMBER = "member@example.com"
THROUGHPUT_PAGES = [
    ("/healthz", False),
    ("/", False),
    ("/accounts/login/", False),
    ("/accounts/profile/", True),
    ("/people/?q=engineer", True),
    ("/notifications/webhooks/", True),
]


def ms(seconds):
    return f"{seconds * 1000:,.0f} ms"


def client_address(n: int) -> str:
    """A distinct address per simulated visitor, sent as X-Forwarded-For."""
    return f"10.{n // 62500}.{n // 250 % 250}.{n % 250 + 1}"


def request(port, method, path, body=None, headers=None):
    """One request on a new connection; returns the response, body read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def cookie(response, name) -> str:
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise RuntimeError(f"The response set no {name} cookie.")


class Site:
    """The Procfile's web command on a port of its own, with bench.web_settings."""

    def __init__(self, env, gunicorn_args, log):
        self.process, self.port = scratch.start_web(*gunicorn_args, env=env, log=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(self.port, "GET", "/healthz").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("gunicorn did not answer /healthz within 30 s")
            time.sleep(0.1)

    def stop(self):
        scratch.stop(self.process)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def log_in(self) -> str:
        """The session cookie of MEMBER, logged in through the login form."""
        csrf = cookie(request(self.port, "GET", "/accounts/login/"), "csrftoken")
        response = request(
            self.port,
            "POST",
            "/accounts/login/",
            urllib.parse.urlencode(
                {"csrfmiddlewaretoken": csrf, "username": MEMBER, "password": PASSWORD}
            ),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
            },
        )
        if response.status != 302:
            raise RuntimeError(f"Logging in answered {response.status}, not a redirect.")
        return f"sessionid={cookie(response, 'sessionid')}"


class PageClients:
    """PAGE_CLIENTS threads loading CROWD_PAGES in turn until the block ends: each one
    every `interval` seconds, or as soon as the last answer came when it is None.

    Each sample is (due, finished) in time.perf_counter() seconds.
    """

    def __init__(self, port, interval):
        self.port = port
        self.interval = interval
        self.samples = []
        self.failures = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.load, args=(n,)) for n in range(PAGE_CLIENTS)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def load(self, n):
        headers = {"X-Forwarded-For": client_address(1000 + n)}
        # The clients' schedules are spread over one interval, not all at once.
        due = time.perf_counter() + (self.interval or 0) * n / PAGE_CLIENTS
        page = n
        while not self.stopping.wait(max(0, due - time.perf_counter())):
            status = request(self.port, "GET", CROWD_PAGES[page % len(CROWD_PAGES)], None, headers)
            finished = time.perf_counter()
            self.samples.append((due, finished))
            self.failures += status.status != 200
            due = due + self.interval if self.interval else finished
            page += 1

    def latencies(self, start=float("-inf"), end=float("inf")):
        """Seconds per page load, for the loads that were due between start and end."""
        return [done - due for due, done in self.samples if start <= due <= end]


def signup_burst(port, tag):
    """SIGNUPS signups posted at the same moment; (started, finished) for each."""
    csrf = cookie(request(port, "GET", "/accounts/signup/"), "csrftoken")
    ready = threading.Barrier(SIGNUPS)
    results = [None] * SIGNUPS

    def sign_up(n):
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "email": f"{tag}-{n}@example.com",
                "password1": PASSWORD,
                "password2": PASSWORD,
            }
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
            "X-Forwarded-For": client_address(n),
        }
        ready.wait()
        started = time.perf_counter()
        response = request(port, "POST", "/accounts/signup/", body, headers)
        results[n] = (started, time.perf_counter(), response.status)

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(SIGNUPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 503 is the site's "busy, try again" (accounts/hashers.py): counted, not an error.
    failed = [status for _, _, status in results if status not in (302, 503)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {SIGNUPS} signups failed: {failed}")
    return results


def crowd(site, tag, interval):
    """Page loads idle, then page loads and signups during a burst; seconds each."""
    with PageClients(site.port, interval) as idle:
        time.sleep(IDLE_SECONDS)
    with PageClients(site.port, interval) as busy:
        time.sleep(1)
        signups = signup_burst(site.port, tag)
    if idle.failures or busy.failures:
        raise RuntimeError(f"{idle.failures + busy.failures} page loads failed")
    start = min(started for started, _, _ in signups)
    end = max(finished for _, finished, _ in signups)
    return {
        "idle": idle.latencies(),
        "during": busy.latencies(start, end),
        "signups": [finished - started for started, finished, _ in signups],
        "turned away": sum(status == 503 for _, _, status in signups),
    }


def find_wrk():
    """Debian's wrk, installed with apt-get when it is missing and we may."""
    if not shutil.which("wrk") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
            check=False,
        )
    return shutil.which("wrk")


def requests_per_second(wrk, url, session=None) -> str:
    headers = ["-H", f"Cookie: {session}"] if session else []
    output = subprocess.run(
        [wrk, "-t2", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    if errors := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        return f"{rate:,.0f}/s ({errors.group(1)} errors)"
    return f"{rate:,.0f}/s"


def throughput(site, wrk):
    session = site.log_in()
    for path, logged_in in THROUGHPUT_PAGES:
        # wrk counts a redirect to the login page as a success; make sure it is the page.
        headers = {"Cookie": session} if logged_in else {}
        status = request(site.port, "GET", path, None, headers).status
        if status != 200:
            raise RuntimeError(f"{path} answered {status}, not 200")
    return {
        path: requests_per_second(wrk, site.url(path), session if logged_in else None)
        for path, logged_in in THROUGHPUT_PAGES
    }


def hash_costs(env):
    return json.loads(scratch.python("-m", "bench.hash_cost", str(HASHES_PER_HASHER), env=env))


def configurations():
    """(label, environment, gunicorn arguments): Django's defaults, then what ships."""
    shipped = runpy.run_path(str(scratch.ROOT / "config" / "gunicorn.py"))
    model = f"{shipped['workers']} gthread workers x {shipped['threads']} threads"
    return [
        (
            "Django's defaults (PBKDF2, 2 sync workers)",
            {"BENCH_HASHERS": "django"},
            ["--worker-class", "sync", "--threads", "1", "--workers", "2"],
        ),
        (
            f"shipped (Argon2id, {model})",
            {"BENCH_HASHERS": "shipped"},
            [],
        ),
    ]


def rows() -> list[tuple[str, str, str]]:
    database = scratch.ScratchDatabase()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = scratch.environment(
                database.url, tmp, DJANGO_SETTINGS_MODULE="bench.web_settings"
            )
            scratch.python("manage.py", "migrate", "--noinput", "-v0", env=env)
            scratch.python("-m", "bench.web_seed", env=env)
            return measure(env, Path(tmp))
    finally:
        database.drop()


def measure(env, tmp):
    print("web 1/3: CPU per password hash...", flush=True)
    costs = hash_costs(env)
    result = [
        (f"Password hash, {label}", f"{costs[name][0]:.2f} s CPU, {costs[name][1]:.2f} s wall", "")
        for name, label in (
            ("pbkdf2_sha256", "PBKDF2 (Django's default)"),
            ("argon2 django", "Argon2id, Django's cost (100 MiB, 2 passes, 8 lanes)"),
            ("argon2", "Argon2id, shipped: OWASP's cost (19 MiB, 2 passes, 1 lane)"),
        )
    ]

    wrk = find_wrk()
    crowds, rates = {}, {}
    for n, (label, config_env, gunicorn_args) in enumerate(configurations()):
        site = Site({**env, **config_env}, gunicorn_args, tmp / f"gunicorn-{n}.log")
        try:
            for clients, interval in PAGE_CLIENT_KINDS:
                print(f"web 2/3: a crowd at the door, {label}, {clients}...", flush=True)
                crowds[label, clients] = crowd(site, f"burst-{len(crowds)}", interval)
            print(f"web 3/3: requests/s, {label}...", flush=True)
            rates[label] = throughput(site, wrk) if wrk else None
        finally:
            site.stop()

    for clients, interval in PAGE_CLIENT_KINDS:
        # The targets were set with clients that ask again at once.
        target = "<= 10x idle" if interval is None else "measured"
        for label, _, _ in configurations():
            measured = crowds[label, clients]
            idle = percentile(measured["idle"], 0.95)
            during = percentile(measured["during"], 0.95)
            signups = ms(percentile(measured["signups"], 0.95))
            if measured["turned away"]:
                signups += f" ({measured['turned away']} asked to try again)"
            result += [
                (f"{label}, {clients}: page-load p95, idle", ms(idle), ""),
                (f"{label}, {clients}: signup p95, {SIGNUPS} at once", signups, ""),
                (f"{label}, {clients}: page-load p95 during the burst",
                 f"{ms(during)} ({during / idle:.0f}x idle)", target),
            ]  # fmt: skip
        default, shipped = (
            percentile(crowds[label, clients]["signups"], 0.95) for label, _, _ in configurations()
        )
        result.append(
            (f"Burst signup p95, defaults / shipped, {clients}", f"{default / shipped:.1f}x",
             ">= 2x" if interval is None else "measured")
        )  # fmt: skip

    labels = list(rates)
    for path, logged_in in THROUGHPUT_PAGES:
        what = f"`{path}` requests/s{', logged in' if logged_in else ''}, defaults / shipped"
        if wrk:
            result.append((what, " / ".join(rates[label][path] for label in labels), ""))
        else:
            result.append((what, "not measured: wrk not found (apt-get install wrk)", ""))
    return result


def main():
    print_table(rows())


if __name__ == "__main__":
    main()

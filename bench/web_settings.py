"""Settings for bench/web.py: the e2e settings, with the password hashers chosen by the bench.

BENCH_HASHERS=django stores passwords as Django does out of the box (PBKDF2 first);
anything else keeps this site's list (Argon2id first).
"""

import os

from django.conf import global_settings

from config.settings.e2e import *  # noqa: F403

if os.environ.get("BENCH_HASHERS") == "django":
    PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS

# The bench's clients all connect from 127.0.0.1; each one says who it is in
# X-Forwarded-For, as a platform's router would, so per-client rate limits see 60
# different people rather than one client hammering the site.
TRUSTED_PROXY_COUNT = 1

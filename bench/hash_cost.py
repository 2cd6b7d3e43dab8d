"""`python -m bench.hash_cost N`: CPU and wall seconds per password hash, per hasher, as JSON.

A process of its own, so the CPU time it counts is the hashes' alone.
"""

import json
import sys
import time

import django

django.setup()

from django.contrib.auth import hashers  # noqa: E402

count = int(sys.argv[1])
costs = {}
for name, hasher in (
    ("pbkdf2_sha256", hashers.get_hasher("pbkdf2_sha256")),
    # Django's own Argon2id hasher (100 MiB, 8 lanes), then this site's (OWASP's cost).
    ("argon2 django", hashers.Argon2PasswordHasher()),
    ("argon2", hashers.get_hasher("argon2")),
):
    hasher.encode("warm-up", hasher.salt())
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        hasher.encode("a-long-enough-passphrase", hasher.salt())
    costs[name] = [(time.process_time() - cpu) / count, (time.perf_counter() - wall) / count]
print(json.dumps(costs))

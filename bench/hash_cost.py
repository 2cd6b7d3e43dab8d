"""`python -m bench.hash_cost N`: CPU and wall seconds per password hash, per hasher, as JSON.

A process of its own, so the CPU time it counts is the hashes' alone.
"""

import json
import sys
import time

import django

django.setup()

from django.contrib.auth.hashers import get_hasher  # noqa: E402

count = int(sys.argv[1])
costs = {}
for algorithm in ("pbkdf2_sha256", "argon2"):
    hasher = get_hasher(algorithm)
    hasher.encode("warm-up", hasher.salt())
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        hasher.encode("a-long-enough-passphrase", hasher.salt())
    costs[algorithm] = [(time.process_time() - cpu) / count, (time.perf_counter() - wall) / count]
print(json.dumps(costs))

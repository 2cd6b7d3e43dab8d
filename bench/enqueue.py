"""Time `.enqueue()` in this process against DATABASE_URL; print the samples as JSON.

Run by bench/__main__.py with DJANGO_SETTINGS_MODULE=bench.settings.
"""

import json
import sys
import time

import django

django.setup()

from bench.tasks import noop  # noqa: E402

samples = []
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    noop.enqueue()
    samples.append(time.perf_counter() - started)
print(json.dumps(samples))

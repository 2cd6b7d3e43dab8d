"""`python -m bench.peak CMD...`: run CMD; print its seconds and peak resident MiB as JSON.

A parent of its own, so the peak it reports is the command's alone.
"""

import json
import resource
import subprocess
import sys
import time

started = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - started
print(json.dumps([seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))

"""Real protocol peers on 127.0.0.1: an SMTP server and webhook receivers.

Tests and benchmarks both talk to them, the way the site talks to a mail provider or a
member's receiver, so they live here rather than in either (neither imports the other).
"""

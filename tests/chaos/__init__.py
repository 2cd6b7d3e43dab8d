"""A chaos run of the site's background work: the Procfile's processes under load from
simulated members, while worker processes are killed and their servers restart.

servers.py starts the throwaway PostgreSQL, Redis and SMTP servers the run restarts;
supervisor.py restarts the Procfile's processes as a platform does; members.py plays the
members; run.py puts them together, injects the faults and checks what must hold after.
"""

"""The parts of the ingest benchmark; `bench/ingest.py` is the command (see bench/README.md).

Modules, each importing only those above it:

- `cpu`: CPU time of process trees and of the whole machine, from /proc.
- `load`: the requests (alert bodies and their targets) and the client threads that send
  them, one phase at a time, with latency and CPU figures per phase.
- `server`: what the bench runs and sets up: gunicorn, the JWKS endpoint, the bench
  connection and its token, Django in this process, the database server's PIDs.
- `queries`: SQL statements per webhook request, counted in this process.
- `profiling`: where a request's time goes: cProfile in this process, py-spy on the workers.
- `report`: the budget's verdicts and the printed report.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # the project (manage.py)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the apps (integrations, ...) import from here

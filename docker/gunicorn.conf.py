"""gunicorn settings of the web process: the image, compose, bench/court_api.py and the tests.

gevent workers, not threads: a court's POST /api/v1/records waits for its ledger batch
(up to LEDGER_BATCH_PERIOD, 1 s), so a process serving 500 records/s holds hundreds of
waiting requests. As OS threads under one GIL they cost a kernel context switch at every
hand-over of the GIL; as greenlets they cost nothing while they wait, and a record cost
20 to 40% less CPU (docs/benchmarks.md, "Court API on gevent"). psycopg (3.1.14 and
later) waits cooperatively once gevent has patched the process, which the worker does
before it loads the application.
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
worker_class = "gevent"
# One process per core: a process runs Python on one core at a time.
workers = int(os.environ.get("WEB_WORKERS", "2"))
# Requests a process holds at once, waiting ones included; more wait in the listen queue.
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "1000"))
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
# gunicorn's default format, with the client the portal reads behind its trusted proxies
# (plumbing/clients.py keeps it in the environ) where gunicorn would name its peer, nginx.
access_log_format = '%({portal.client}e)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

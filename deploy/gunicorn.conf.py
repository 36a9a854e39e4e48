"""gunicorn settings for the web frontend (behind nginx).

Threads serve the 1 s leaderboard polls cheaply. Each worker process keeps its own
leaderboard cache, rebuilt when a new score changes the token: one process per core keeps
that rebuild from being paid more often than the cores can take.
"""

import multiprocessing
import os

# Loopback only: nginx is the one way in, which is why the app may believe the
# X-Forwarded-For/-Proto headers it sets (trusted_proxies = 1, deploy/SECURITY.md).
bind = os.environ.get("DEBLEND_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("DEBLEND_WEB_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("DEBLEND_WEB_THREADS", 16))
timeout = 60
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
wsgi_app = "server.web:create_app()"

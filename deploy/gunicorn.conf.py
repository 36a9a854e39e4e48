"""gunicorn settings for the web frontend (behind nginx).

Threads serve the 1 s leaderboard polls cheaply; each worker process keeps its own
leaderboard cache, invalidated by the change token.
"""

import multiprocessing
import os

bind = os.environ.get("DEBLEND_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("DEBLEND_WEB_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
worker_class = "gthread"
threads = int(os.environ.get("DEBLEND_WEB_THREADS", 8))
timeout = 60
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
wsgi_app = "server.web:create_app()"

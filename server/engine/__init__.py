"""The submission engine: dispatcher (database side) and workers (sandboxed jobs)."""

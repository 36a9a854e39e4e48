"""The contest server: web frontend, database and submission engine."""

"""Background jobs without a broker server: a Celery broker on the project's PostgreSQL."""

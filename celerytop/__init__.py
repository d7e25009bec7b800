"""celerytop: a top-like terminal monitor and control console for Celery."""

__version__ = "0.1.0"

"""The Ferry Django project: settings, URL roots, ASGI routing and the Celery app."""

from portal.celery import app as celery_app

__all__ = ("celery_app",)

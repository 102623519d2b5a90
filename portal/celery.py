"""The Celery application shared by the web process, workers and beat."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("ferry")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `portal.tasks` plus the `tasks` module of every installed app.
app.autodiscover_tasks(["portal"])
app.autodiscover_tasks()

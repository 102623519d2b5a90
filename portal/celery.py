"""The Celery application shared by the web process, workers and beat."""

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("ferry")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `portal.tasks` plus the `tasks` module of every installed app.
app.autodiscover_tasks(["portal"])
app.autodiscover_tasks()


# Tasks beat runs every few seconds (and the dispatch that follows each job): Celery's lines about
# sending, receiving and finishing them say nothing changed, so they go to DEBUG. The tasks log at
# INFO themselves when they do change something.
ROUTINE_TASKS = ("ferry.jobs.reap", "ferry.jobs.dispatch", "ferry.windows.release")


class RoutineTasksAtDebug(logging.Filter):
    """Turns Celery's INFO records about a routine task into DEBUG records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not any(t in record.getMessage() for t in ROUTINE_TASKS):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


# beat sends, the worker receives, the tracer reports the result: one logger each.
for _name in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
    logging.getLogger(_name).addFilter(RoutineTasksAtDebug())

"""Launching an upgrade reads the cloud's globals.yml for what the target release removed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.clouds.models import Cloud
from apps.jobs import services
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


def test_an_upgrade_is_refused_while_globals_enable_a_service_the_target_removed(
    operator, demo_cloud, no_worker
):
    Cloud.objects.filter(pk=demo_cloud.pk).update(
        globals_yml=demo_cloud.globals_yml + '\nenable_venus: "yes"\n'
    )
    with pytest.raises(ValidationError) as refused:
        services.launch_job(
            operator, demo_cloud, "upgrade", params={"target_release": "2025.2"}, confirmed=True
        )
    message = " ".join(refused.value.message_dict["globals_yml"])
    assert "enable_venus" in message and "2025.2" in message
    assert not Job.objects.exists()

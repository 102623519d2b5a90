"""Fixtures of the approval tests: approvals switched on, a second approver, a job awaiting approval."""

from __future__ import annotations

import pytest

from apps.jobs import services
from tests.factories import UserFactory

DEPLOY = {"release": "2025.1"}


@pytest.fixture
def one_approval(settings):
    """Every cloud without a policy of its own needs one approver (the production default)."""
    settings.FERRY_APPROVALS_REQUIRED = 1
    settings.FERRY_APPROVAL_TTL_HOURS = 72


@pytest.fixture
def second_approver(db):
    return UserFactory(username="arne-approver", role="approver")


@pytest.fixture
def awaiting(one_approval, operator, demo_cloud, no_worker):
    """A deploy of the demo cloud, launched by the operator, awaiting one approval."""
    return services.launch_job(
        operator, demo_cloud, "deploy", params=DEPLOY, confirmed=True, reason="roll out the new images"
    )

"""The planner's table of job kinds is the only list of them: the model, the API, the launch form and
the worker read their kinds and kind sets from it."""

from __future__ import annotations

from apps.jobs import execution
from apps.jobs.api.filters import JobFilterSet
from apps.jobs.api.serializers import JobLaunchSerializer
from apps.jobs.forms import JobLaunchForm, chosen_kind
from apps.jobs.models import READ_ONLY_KINDS, Job, JobKind
from runner.planner import KINDS

TABLE = [(name, spec.label) for name, spec in KINDS.items()]


def kinds_where(flag: str) -> frozenset[str]:
    return frozenset(name for name, spec in KINDS.items() if getattr(spec, flag))


def test_the_models_kinds_are_the_tables_names_and_labels_in_its_order():
    assert JobKind.choices == TABLE
    assert list(Job._meta.get_field("kind").choices) == TABLE


def test_the_api_takes_and_filters_by_exactly_the_tables_kinds():
    assert list(JobLaunchSerializer().fields["kind"].choices.items()) == TABLE
    filtered = JobFilterSet().filters["kind"].extra["choices"]
    assert [choice for choice in filtered if choice[0]] == TABLE


def test_the_launch_form_offers_the_tables_kinds_and_starts_at_its_one_read_only_default():
    assert list(JobLaunchForm().fields["kind"].choices) == TABLE
    (default,) = kinds_where("default")
    assert chosen_kind({}) == chosen_kind({"kind": "explode"}) == default
    assert not KINDS[default].mutating


def test_the_workers_kind_sets_are_the_tables():
    assert frozenset(KINDS) - kinds_where("mutating") == READ_ONLY_KINDS
    assert kinds_where("moves_release") == execution.UPGRADE_KINDS

import django_filters

from apps.jobs.models import Job


class JobFilterSet(django_filters.FilterSet):
    cloud = django_filters.CharFilter(field_name="cloud__slug")

    class Meta:
        model = Job
        fields = {"state": ["exact", "in"], "kind": ["exact"], "mutating": ["exact"]}

import django_filters

from apps.clouds.models import Cell, Cloud, Host


class CloudFilterSet(django_filters.FilterSet):
    release = django_filters.CharFilter(field_name="release__series")

    class Meta:
        model = Cloud
        fields = {
            "slug": ["exact", "icontains"],
            "region": ["exact"],
            "state": ["exact"],
            "distro": ["exact"],
            "arch": ["exact"],
        }


class CellFilterSet(django_filters.FilterSet):
    cloud = django_filters.CharFilter(field_name="cloud__slug")

    class Meta:
        model = Cell
        fields = {"name": ["exact"]}


class HostFilterSet(django_filters.FilterSet):
    cloud = django_filters.CharFilter(field_name="cloud__slug")
    cell = django_filters.CharFilter(field_name="cell__name")
    group = django_filters.CharFilter(field_name="groups__name", distinct=True)

    class Meta:
        model = Host
        fields = {"name": ["exact", "icontains"], "state": ["exact"], "address": ["exact"]}

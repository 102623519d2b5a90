import django_filters

from apps.backups.models import Backup


class BackupFilterSet(django_filters.FilterSet):
    cloud = django_filters.CharFilter(field_name="cloud__slug")

    class Meta:
        model = Backup
        fields = {"state": ["exact"], "kind": ["exact"], "release": ["exact"], "label": ["exact"]}

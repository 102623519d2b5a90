import django_filters

from apps.catalog.models import Image, Release, SupportTier


class ReleaseFilterSet(django_filters.FilterSet):
    class Meta:
        model = Release
        fields = {"series": ["exact"], "status": ["exact"], "slurp": ["exact"]}


class ImageFilterSet(django_filters.FilterSet):
    distro = django_filters.CharFilter(field_name="availability__distro", distinct=True)
    arch = django_filters.CharFilter(field_name="availability__arch", distinct=True)
    availability = django_filters.CharFilter(field_name="availability__status", distinct=True)

    class Meta:
        model = Image
        fields = {"name": ["exact", "icontains"], "service": ["exact"]}


class SupportTierFilterSet(django_filters.FilterSet):
    class Meta:
        model = SupportTier
        fields = {"name": ["exact"], "flagged": ["exact"]}

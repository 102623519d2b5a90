from rest_framework import viewsets

from apps.backups.api.filters import BackupFilterSet
from apps.backups.api.serializers import BackupSerializer
from apps.backups.models import Backup
from apps.clouds.permissions import clouds_for
from portal.pagination import NewestFirstPagination


class BackupViewSet(viewsets.ReadOnlyModelViewSet):
    """Database backups of the clouds you can see, newest first. Backup jobs create them."""

    serializer_class = BackupSerializer
    filterset_class = BackupFilterSet
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        return Backup.objects.filter(cloud__in=clouds_for(self.request.user)).select_related("cloud")

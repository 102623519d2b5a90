from rest_framework import viewsets

from apps.audit.api.serializers import AuditEntrySerializer
from apps.audit.filters import AuditEntryFilterSet
from apps.audit.permissions import entries_for
from portal.pagination import NewestFirstPagination
from portal.permissions import IsMember


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, newest first: every entry you may read (admins: all; others: the clouds
    they can see and their own). Read-only: the trail is append-only."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    permission_classes = [IsMember]
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        return entries_for(self.request.user)

import tempfile
from dataclasses import asdict
from pathlib import Path

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from apps.clouds import files, services
from apps.clouds.api.filters import CellFilterSet, CloudFilterSet, HostFilterSet
from apps.clouds.api.serializers import (
    CellSerializer,
    CloudFileDetailSerializer,
    CloudFileSerializer,
    CloudFileUploadSerializer,
    CloudMembershipSerializer,
    CloudSerializer,
    ConfigTreeImportSerializer,
    HostSerializer,
    InventoryImportSerializer,
    ReleaseChangeRowSerializer,
)
from apps.clouds.files import read_upload
from apps.clouds.history import change_heads, history_rows
from apps.clouds.members import grant_membership, revoke_membership
from apps.clouds.models import Cell, CloudFile, CloudMembership, Host, ReleaseChange
from apps.clouds.permissions import CloudAction, can, clouds_for, get_cloud_for
from apps.clouds.uploads import unpack_inventory_upload
from portal.drf import as_drf_error
from portal.pagination import NewestFirstPagination
from portal.permissions import ReadMembersWriteChecked


class CloudViewSet(viewsets.ModelViewSet):
    """Clouds. Creating and changing them goes through the same services as the pages."""

    serializer_class = CloudSerializer
    filterset_class = CloudFilterSet
    # Writes are checked against the cloud itself (an admin of that cloud, or a global admin).
    permission_classes = [ReadMembersWriteChecked]
    lookup_field = "slug"

    def get_queryset(self):
        return (
            clouds_for(self.request.user)
            .select_related("release")
            .annotate(host_count=Count("hosts", distinct=True), cell_count=Count("cells", distinct=True))
        )

    def _fields(self, serializer) -> dict:
        data = dict(serializer.validated_data)
        release = data.pop("release", None)
        if isinstance(release, dict):
            data["release"] = release.get("series")
        if not data.get("passwords_yml"):
            data.pop("passwords_yml", None)
        if data.pop("clear_passwords", False):
            data["passwords_yml"] = ""
        return data

    def perform_create(self, serializer):
        if not can(self.request.user, CloudAction.ADMINISTER):
            raise PermissionDenied("You need the global admin role to define clouds.")
        try:
            cloud = services.create_cloud(self.request.user, **self._fields(serializer))
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        serializer.instance = self.get_queryset().get(pk=cloud.pk)  # with its counts, as the schema says

    def perform_update(self, serializer):
        cloud = get_cloud_for(self.request.user, self.kwargs["slug"], CloudAction.ADMINISTER)
        try:
            cloud = services.update_cloud(self.request.user, cloud, **self._fields(serializer))
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        serializer.instance = self.get_queryset().get(pk=cloud.pk)

    def perform_destroy(self, instance):
        raise ValidationError(
            {"detail": "Clouds are retired through a decommission job, not deleted by the API."}
        )

    @extend_schema(request=InventoryImportSerializer, responses={200: None})
    @action(
        detail=True,
        methods=["post"],
        url_path="import-inventory",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_inventory(self, request, slug=None):
        """Replace the cloud's hosts, groups and cells with an uploaded kolla-ansible inventory."""
        cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
        form = InventoryImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with tempfile.TemporaryDirectory(prefix="ferry-import-") as tmp:
            try:
                path = unpack_inventory_upload(form.validated_data["inventory"], Path(tmp))
                globals_file = form.validated_data.get("globals")
                summary = services.import_inventory_path(
                    request.user,
                    cloud,
                    path,
                    globals_yml=globals_file.read() if globals_file else None,
                    release=form.validated_data.get("release") or None,
                )
            except DjangoValidationError as exc:
                raise as_drf_error(exc) from None
        return Response(
            {"hosts": summary.hosts, "groups": summary.groups, "cells": summary.cells},
            status=status.HTTP_200_OK,
        )


class CellViewSet(viewsets.ReadOnlyModelViewSet):
    """Nova cells of the clouds the user can see."""

    serializer_class = CellSerializer
    filterset_class = CellFilterSet

    def get_queryset(self):
        return (
            Cell.objects.filter(cloud__in=clouds_for(self.request.user))
            .select_related("cloud", "release")
            .annotate(host_count=Count("hosts"))
        )


class HostViewSet(viewsets.ReadOnlyModelViewSet):
    """Hosts of the clouds the user can see; filter by cloud, cell, group or state."""

    serializer_class = HostSerializer
    filterset_class = HostFilterSet

    def get_queryset(self):
        return (
            Host.objects.filter(cloud__in=clouds_for(self.request.user))
            .select_related("cloud", "cell", "release")
            .prefetch_related("groups")
        )


class CloudFileViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Configuration files of a cloud (config/, certificates/, globals.d/). Team members read them
    (secret content only admins); admins add, replace, delete and import them, as the cloud's other
    definition. POST with an existing area and path replaces that file."""

    # The cloud's admins too, as on the cloud's files page: each write fetches the cloud for them.
    permission_classes = [ReadMembersWriteChecked]
    pagination_class = None  # bounded by FERRY_MAX_CLOUD_FILES
    queryset = CloudFile.objects.none()  # for the schema; get_queryset is what answers

    def get_serializer_class(self):
        return CloudFileDetailSerializer if self.action == "retrieve" else CloudFileSerializer

    def _cloud(self, action: CloudAction = CloudAction.VIEW):
        return get_cloud_for(self.request.user, self.kwargs["cloud_slug"], action)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CloudFile.objects.none()
        return self._cloud().files.select_related("cloud", "updated_by").order_by("area", "path")

    @extend_schema(request=CloudFileUploadSerializer, responses={201: CloudFileSerializer})
    def create(self, request, cloud_slug=None):
        """Add a file, or replace the one at the same area and path."""
        cloud = self._cloud(CloudAction.ADMINISTER)
        form = CloudFileUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            content = read_upload(data["file"]) if "file" in data else data["content"].encode()
            cloud_file = files.put_file(request.user, cloud, data["area"], data["path"], content)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        body = CloudFileSerializer(cloud_file, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        cloud = self._cloud(CloudAction.ADMINISTER)
        files.delete_file(self.request.user, cloud, instance)

    @extend_schema(request=ConfigTreeImportSerializer, responses={200: None})
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_tree(self, request, cloud_slug=None):
        """Replace the cloud's files (and globals.yml, passwords.yml if present) with a kolla config dir."""
        cloud = self._cloud(CloudAction.ADMINISTER)
        form = ConfigTreeImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            result = files.import_config_tree(request.user, cloud, form.validated_data["archive"])
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(asdict(result), status=status.HTTP_200_OK)


class CloudMemberViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Who holds which role on one cloud. Members of the cloud read; its admins grant and revoke."""

    serializer_class = CloudMembershipSerializer
    permission_classes = [ReadMembersWriteChecked]
    pagination_class = None
    queryset = CloudMembership.objects.none()  # for the schema; get_queryset is what answers

    def _cloud(self, action: CloudAction = CloudAction.VIEW):
        return get_cloud_for(self.request.user, self.kwargs["cloud_slug"], action)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CloudMembership.objects.none()
        return self._cloud().memberships.select_related("user", "granted_by")

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = grant_membership(
                self.request.user, self._cloud(CloudAction.ADMINISTER), data["user"]["username"], data["role"]
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def perform_destroy(self, instance):
        revoke_membership(self.request.user, self._cloud(CloudAction.ADMINISTER), instance.pk)


class CloudHistoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A cloud's upgrade history: every completed release change, one per job, newest first.

    A fast-forward upgrade is one change with several hops; a rollback is a change downwards; the
    deploy that set the cloud's first release is a change from nothing. Members of the cloud read it.
    """

    serializer_class = ReleaseChangeRowSerializer
    permission_classes = [ReadMembersWriteChecked]
    pagination_class = NewestFirstPagination
    queryset = ReleaseChange.objects.none()  # for the schema; list is what answers

    def list(self, request, cloud_slug=None):
        cloud = get_cloud_for(request.user, cloud_slug)
        # Pages are cut on the changes' newest hops; their other hops come in one more query.
        page = self.paginate_queryset(change_heads(cloud))
        return self.get_paginated_response(self.get_serializer(history_rows(page), many=True).data)

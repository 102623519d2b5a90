"""Pages for clouds, their cells and hosts, inventory import and support reports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import Role
from apps.approvals.services import policy_for
from apps.catalog.support import support_report
from apps.clouds import files, services
from apps.clouds.forms import CloudFileForm, CloudForm, ConfigTreeImportForm, InventoryImportForm
from apps.clouds.history import release_changes
from apps.clouds.inventory_stats import hosts_per_group
from apps.clouds.members import grant_membership, revoke_membership
from apps.clouds.models import HostState
from apps.clouds.permissions import CloudAction, can, clouds_for, get_cloud_for
from apps.clouds.timeline import history_chart
from apps.clouds.uploads import unpack_inventory_upload
from apps.notifications.services import settings_for
from apps.windows.views import cloud_windows_context

TOP_GROUPS = ("control", "network", "compute", "monitoring", "storage", "deployment")
HOSTS_PAGE = 100
HISTORY_SHOWN = 50  # changes the cloud page draws; the API pages through them all


def cloud_list(request: HttpRequest) -> HttpResponse:
    clouds = (
        clouds_for(request.user)
        .select_related("release")
        .annotate(host_count=Count("hosts", distinct=True), cell_count=Count("cells", distinct=True))
    )
    return render(
        request,
        "clouds/cloud_list.html",
        {
            "clouds": clouds,
            "can_admin": can(request.user, CloudAction.ADMINISTER),
        },
    )


def cloud_detail(request: HttpRequest, slug: str) -> HttpResponse:
    cloud = get_cloud_for(request.user, slug)
    counts = hosts_per_group(cloud)
    cells = list(cloud.cells.select_related("release").annotate(host_count=Count("hosts")).order_by("name"))
    api_hosts = cloud.hosts.filter(cell__isnull=True).count()
    lines = support_report(cloud)
    history = release_changes(cloud, limit=HISTORY_SHOWN + 1)
    return render(
        request,
        "clouds/cloud_detail.html",
        {
            "cloud": cloud,
            "top_groups": [(g, counts.get(g, 0)) for g in TOP_GROUPS],
            "service_groups": sorted((g, n) for g, n in counts.items() if g not in TOP_GROUPS and n),
            "cells": cells,
            "api_hosts": api_hosts,
            "host_total": sum(c.host_count for c in cells) + api_hosts,
            "flagged": [line for line in lines if line.flagged],
            "can_admin": can(request.user, CloudAction.ADMINISTER, cloud),
            "can_operate": can(request.user, CloudAction.OPERATE, cloud),
            "jobs": cloud.jobs.select_related("cloud", "requested_by").order_by("-id")[:10],
            "backups": cloud.backups.order_by("-taken_at", "-id")[:20],
            "history": history[:HISTORY_SHOWN],
            "history_more": len(history) > HISTORY_SHOWN,
            "history_chart": history_chart(history[:HISTORY_SHOWN]),
            "members": cloud.memberships.select_related("user"),
            "approval_policy": policy_for(cloud),
            "notification_settings": settings_for(cloud),
            "roles": [r.value for r in Role],
            **cloud_windows_context(request.user, cloud),
        },
    )


@require_POST
def cloud_member_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Give a user a role on this cloud only (the cloud's admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    username, role = request.POST.get("username", "").strip(), request.POST.get("role", "")
    try:
        grant_membership(request.user, cloud, username, role)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
    else:
        messages.success(request, f"{username} is now {role} of {cloud.slug}.")
    return redirect("cloud-detail", slug=cloud.slug)


@require_POST
def cloud_member_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Take one role on this cloud away from a user (the cloud's admins)."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    try:
        revoke_membership(request.user, cloud, pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Role removed.")
    return redirect("cloud-detail", slug=cloud.slug)


def cloud_hosts(request: HttpRequest, slug: str) -> HttpResponse:
    """Hosts of a cloud, filtered, in keyset pages of 100 (``?after=<id>``)."""
    cloud = get_cloud_for(request.user, slug)
    hosts = cloud.hosts.select_related("cell", "release").prefetch_related("groups").order_by("id")
    group, cell, state, query = (request.GET.get(k, "").strip() for k in ("group", "cell", "state", "q"))
    if group:
        hosts = hosts.filter(groups__name=group)
    if cell:
        hosts = hosts.filter(cell__name=cell)
    if state:
        hosts = hosts.filter(state=state)
    if query:
        hosts = hosts.filter(Q(name__icontains=query) | Q(address__icontains=query))
    after = request.GET.get("after", "")
    if after.isascii() and after.isdigit() and len(after) < 19:  # ids are bigints
        hosts = hosts.filter(id__gt=int(after))
    page = list(hosts[: HOSTS_PAGE + 1])
    more = len(page) > HOSTS_PAGE
    page = page[:HOSTS_PAGE]
    params = request.GET.copy()
    if more:
        params["after"] = page[-1].id
    return render(
        request,
        "clouds/host_list.html",
        {
            "cloud": cloud,
            "hosts": page,
            "next_query": params.urlencode() if more else "",
            "filters": {"group": group, "cell": cell, "state": state, "q": query},
            "states": HostState.choices,
            "cells": cloud.cells.values_list("name", flat=True),
        },
    )


def cloud_support(request: HttpRequest, slug: str) -> HttpResponse:
    cloud = get_cloud_for(request.user, slug)
    lines = support_report(cloud)
    return render(
        request,
        "clouds/support_report.html",
        {
            "cloud": cloud,
            "lines": lines,
            "flagged": sum(1 for line in lines if line.flagged),
        },
    )


def cloud_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, CloudAction.ADMINISTER):
        raise PermissionDenied("You need the admin role to define clouds.")
    form = CloudForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cloud = services.create_cloud(request.user, **form.service_kwargs())
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(
                request, f"Cloud {cloud.slug} defined. Next: import its kolla-ansible inventory."
            )
            return redirect("cloud-import", slug=cloud.slug)
    return render(request, "clouds/cloud_form.html", {"form": form, "cloud": None}, status=_status(form))


def cloud_edit(request: HttpRequest, slug: str) -> HttpResponse:
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    form = CloudForm(request.POST or None, instance=cloud)
    if request.method == "POST" and form.is_valid():
        cloud.refresh_from_db()  # the form wrote into the instance; the service decides what changes
        try:
            services.update_cloud(request.user, cloud, **form.service_kwargs())
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(request, f"Cloud {cloud.slug} saved.")
            return redirect("cloud-detail", slug=cloud.slug)
    return render(request, "clouds/cloud_form.html", {"form": form, "cloud": cloud}, status=_status(form))


def cloud_import(request: HttpRequest, slug: str) -> HttpResponse:
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    form = InventoryImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with tempfile.TemporaryDirectory(prefix="ferry-import-") as tmp:
            try:
                path = unpack_inventory_upload(data["inventory"], Path(tmp))
                summary = services.import_inventory_path(
                    request.user,
                    cloud,
                    path,
                    globals_yml=data["globals"].read() if data.get("globals") else None,
                    release=data["release"].series if data.get("release") else None,
                )
            except ValidationError as exc:
                _attach(form, exc, default_field="inventory")
            else:
                messages.success(
                    request,
                    f"Imported {summary.hosts} hosts, {summary.groups} groups "
                    f"and {len(summary.cells)} cells.",
                )
                return redirect("cloud-detail", slug=cloud.slug)
    return render(request, "clouds/import.html", {"form": form, "cloud": cloud}, status=_status(form))


def cloud_files(request: HttpRequest, slug: str) -> HttpResponse:
    """The cloud's configuration files; admins add, replace, delete and import them here."""
    cloud = get_cloud_for(request.user, slug)
    can_admin = can(request.user, CloudAction.ADMINISTER, cloud)
    form = CloudFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not can_admin:
            raise PermissionDenied(f"You need the admin role to change the files of {slug}.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                content = files.read_upload(data["file"])
                cloud_file = files.put_file(request.user, cloud, data["area"], data["path"], content)
            except ValidationError as exc:
                _attach(form, exc, default_field="file")
            else:
                messages.success(request, f"Saved {cloud_file.relative_path} ({cloud_file.size} bytes).")
                return redirect("cloud-files", slug=cloud.slug)
    return render(
        request,
        "clouds/file_list.html",
        {
            "cloud": cloud,
            "files": cloud.files.select_related("updated_by").order_by("area", "path"),
            "form": form if can_admin else None,
            "can_admin": can_admin,
        },
        status=_status(form),
    )


def cloud_file_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Ask, then delete one configuration file."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    cloud_file = get_object_or_404(cloud.files, pk=pk)
    if request.method == "POST":
        files.delete_file(request.user, cloud, cloud_file)
        messages.success(request, f"Deleted {cloud_file.relative_path}.")
        return redirect("cloud-files", slug=cloud.slug)
    return render(request, "clouds/file_delete.html", {"cloud": cloud, "file": cloud_file})


def cloud_files_import(request: HttpRequest, slug: str) -> HttpResponse:
    """Replace the cloud's configuration files with an uploaded kolla config dir."""
    cloud = get_cloud_for(request.user, slug, CloudAction.ADMINISTER)
    form = ConfigTreeImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = files.import_config_tree(request.user, cloud, form.cleaned_data["archive"])
        except ValidationError as exc:
            _attach(form, exc, default_field="archive")
        else:
            also = [
                name
                for name, on in (("globals.yml", result.globals_yml), ("passwords.yml", result.passwords_yml))
                if on
            ]
            messages.success(
                request,
                f"Imported: {len(result.added)} added, {len(result.changed)} changed, {len(result.removed)} "
                f"removed{'; ' + ' and '.join(also) + ' replaced' if also else ''}"
                f"{f'; {len(result.skipped)} other members skipped' if result.skipped else ''}.",
            )
            return redirect("cloud-files", slug=cloud.slug)
    return render(request, "clouds/files_import.html", {"form": form, "cloud": cloud}, status=_status(form))


def _status(form) -> int:
    """400 when a submitted form was refused, so that clients other than browsers see it too."""
    return 400 if form.is_bound and form.errors else 200


def _attach(form, exc: ValidationError, default_field: str | None = None) -> None:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {default_field: exc.messages}
    for field, messages_ in errors.items():
        form.add_error(field if field in form.fields else None, messages_)

"""The admin's edits in the audit trail: every model admin that changes rows records them.

Django's admin saves through ``save_model``, ``save_related`` and ``delete_model``, inside one
transaction per request; this mixin records each change there, explicitly, with before and after.
A model admin may hand writes to its domain's services instead (``*_service`` attributes).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.audit.services import record_row_change, record_row_delete, row_snapshot
from portal.exceptions import InUse


class AuditedAdminMixin:
    """Record creates, changes (inline rows and many-to-many members included) and deletes."""

    # A callable (actor, obj) that deletes through a domain service (which audits and may refuse).
    delete_service = None

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk is not None:
            stored = type(obj)._default_manager.get(pk=obj.pk)
            before = row_snapshot(stored)
        request._ferry_audit_before = before
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        actor = request.user
        record_row_change(actor, form.instance, getattr(request, "_ferry_audit_before", None))
        for formset in formsets:
            for obj in formset.new_objects:
                record_row_change(actor, obj, None)
            for obj, _fields in formset.changed_objects:
                record_row_change(actor, obj, getattr(obj, "_ferry_audit_before", None) or {})

    def save_formset(self, request, form, formset, change):
        # Each inline row's stored state before the formset writes it, for its entry's "before".
        for inline_form in formset.initial_forms:
            if inline_form.instance.pk is not None and inline_form.has_changed():
                stored = (
                    type(inline_form.instance)._default_manager.filter(pk=inline_form.instance.pk).first()
                )
                if stored is not None:
                    inline_form.instance._ferry_audit_before = row_snapshot(stored)
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                record_row_delete(request.user, deleted.instance)
        super().save_formset(request, form, formset, change)

    def delete_model(self, request, obj):
        with transaction.atomic():
            if self.delete_service is not None:
                try:
                    self.delete_service(request.user, obj)
                except InUse as exc:
                    raise PermissionDenied(str(exc)) from None
                return
            record_row_delete(request.user, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)

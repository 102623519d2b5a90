from django.urls import path

from apps.audit import views

urlpatterns = [
    path("", views.audit_list, name="audit-list"),
    path("export.csv", views.audit_export, {"fmt": "csv"}, name="audit-export-csv"),
    path("export.json", views.audit_export, {"fmt": "json"}, name="audit-export-json"),
]

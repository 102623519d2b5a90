from django.urls import path

from apps.clouds import views
from apps.jobs.views import job_launch

urlpatterns = [
    path("", views.cloud_list, name="cloud-list"),
    path("new/", views.cloud_create, name="cloud-create"),
    path("<slug:slug>/", views.cloud_detail, name="cloud-detail"),
    path("<slug:slug>/edit/", views.cloud_edit, name="cloud-edit"),
    path("<slug:slug>/hosts/", views.cloud_hosts, name="cloud-hosts"),
    path("<slug:slug>/import/", views.cloud_import, name="cloud-import"),
    path("<slug:slug>/files/", views.cloud_files, name="cloud-files"),
    path("<slug:slug>/files/import/", views.cloud_files_import, name="cloud-files-import"),
    path("<slug:slug>/files/<int:pk>/delete/", views.cloud_file_delete, name="cloud-file-delete"),
    path("<slug:slug>/support/", views.cloud_support, name="cloud-support"),
    path("<slug:slug>/members/", views.cloud_member_add, name="cloud-member-add"),
    path("<slug:slug>/members/<int:pk>/remove/", views.cloud_member_remove, name="cloud-member-remove"),
    path("<slug:slug>/jobs/new/", job_launch, name="job-launch"),
]

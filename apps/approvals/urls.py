from django.urls import path

from apps.approvals import views

urlpatterns = [
    path("", views.approval_queue, name="approval-queue"),
    path("jobs/<int:job_id>/approve/", views.job_approve, name="job-approve"),
    path("jobs/<int:job_id>/deny/", views.job_deny, name="job-deny"),
    path("clouds/<slug:slug>/policy/", views.cloud_policy, name="cloud-approval-policy"),
]

from django.urls import path

from apps.jobs import views

urlpatterns = [
    path("", views.job_list, name="job-list"),
    path("active/", views.active_jobs, name="job-active"),
    path("<int:job_id>/", views.job_detail, name="job-detail"),
    path("<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("<int:job_id>/resume/", views.job_resume, name="job-resume"),
    path("<int:job_id>/continue/", views.job_continue, name="job-continue"),
    path("<int:job_id>/abort/", views.job_abort, name="job-abort"),
    path("<int:job_id>/log.txt", views.job_log, name="job-log"),
]

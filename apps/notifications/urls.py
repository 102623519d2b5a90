from django.urls import path

from apps.notifications import views

urlpatterns = [
    path("clouds/<slug:slug>/", views.cloud_notifications, name="cloud-notifications"),
]

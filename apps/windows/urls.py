from django.urls import path

from apps.windows import views

urlpatterns = [
    path("<slug:slug>/windows/", views.window_add, name="cloud-window-add"),
    path("<slug:slug>/windows/<int:pk>/remove/", views.window_remove, name="cloud-window-remove"),
    path("<slug:slug>/freezes/", views.freeze_add, name="cloud-freeze-add"),
    path("<slug:slug>/freezes/<int:pk>/remove/", views.freeze_remove, name="cloud-freeze-remove"),
]

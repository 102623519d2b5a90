from django.urls import path

from apps.catalog import views

urlpatterns = [
    path("releases/", views.release_list, name="release-list"),
    path("releases/<str:series>/", views.release_detail, name="release-detail"),
    path("images/<str:name>/", views.image_detail, name="image-detail"),
    path("matrix/", views.support_matrix, name="support-matrix"),
    path("tiers/", views.tier_list, name="tier-list"),
]

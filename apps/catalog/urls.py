from django.urls import path

from apps.catalog import views

urlpatterns = [
    path("releases/", views.release_list, name="release-list"),
    path("matrix/", views.support_matrix, name="support-matrix"),
    path("tiers/", views.tier_list, name="tier-list"),
]

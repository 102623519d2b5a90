from django.apps import AppConfig


class CloudsConfig(AppConfig):
    name = "apps.clouds"
    label = "clouds"
    verbose_name = "Clouds, cells and hosts"

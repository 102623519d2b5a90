from django.apps import AppConfig


class WindowsConfig(AppConfig):
    name = "apps.windows"
    label = "windows"
    verbose_name = "Maintenance windows and change freezes"

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from apps.accounts import services

        user_logged_in.connect(services.record_login, dispatch_uid="ferry.audit.login")
        user_login_failed.connect(services.record_login_failure, dispatch_uid="ferry.audit.login_failed")

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with the login and joining times shown, not edited: the admin's date and
    time inputs have no microseconds, so saving them back would rewrite both on every save.
    """

    readonly_fields = ("last_login", "date_joined")

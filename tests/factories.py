"""factory-boy factories shared by the tests."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


class UserFactory(factory.django.DjangoModelFactory):
    """A user; pass ``role="operator"`` to put them in that role's group."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@ferry.invalid")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            group, _ = Group.objects.get_or_create(name=extracted)
            self.groups.add(group)
            if extracted == "admin":
                self.is_staff = self.is_superuser = True
        self.save()

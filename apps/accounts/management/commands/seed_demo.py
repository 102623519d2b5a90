"""`manage.py seed_demo`: create the demo users and cloud; safe to run every start."""

from django.core.management.base import BaseCommand

from apps.accounts.demo import ensure_demo_users
from apps.clouds.demo import ensure_demo_cloud


class Command(BaseCommand):
    help = "Create (or reset) one demo user per role and the demo cloud. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="do not print the logins")

    def handle(self, *args, quiet_logins: bool = False, **options):
        logins = ensure_demo_users()
        cloud = ensure_demo_cloud()
        self.stdout.write(f"Demo cloud: {cloud.slug} ({cloud.hosts.count()} hosts)")
        if not quiet_logins:
            self.stdout.write("Demo logins (user / password):")
            for username, password, role in logins:
                self.stdout.write(f"  {username:<9} {password:<20} {role.value}")

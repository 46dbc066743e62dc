"""`manage.py grant_role USER ROLE`: make a user an operator or a viewer."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from console.roles import ROLES


class Command(BaseCommand):
    help = (
        "Put a user in the operators or viewers group (and let them sign in to the console); "
        "--remove takes the role away."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=ROLES)
        parser.add_argument("--remove", action="store_true", help="take the role away")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(
                f"No user {options['username']!r}; create one first "
                "(manage.py createsuperuser, or the admin's Users page)."
            ) from None
        group = Group.objects.get(name=options["role"])
        if options["remove"]:
            user.groups.remove(group)
            self.stdout.write(f"{user.username} is no longer in {group.name}.")
            return
        user.groups.add(group)
        if not user.is_staff:
            user.is_staff = True  # the console (Django admin) is for staff only
            user.save(update_fields=["is_staff"])
        self.stdout.write(f"{user.username} is now in {group.name}.")

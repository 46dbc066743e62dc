"""Factories for the models tests build directly (webhook tests post real payloads instead)."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from cmdb.models import ConfigurationItem
from incidents.models import AssignmentGroup, Incident


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")


class AssignmentGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentGroup

    name = factory.Sequence(lambda n: f"Team {n}")


class ConfigurationItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConfigurationItem

    name = factory.Sequence(lambda n: f"vm-{n}")
    ci_class = "microsoft.compute/virtualmachines"
    subscription_id = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
    resource_group = "rg"
    azure_resource_id = factory.LazyAttribute(
        lambda o: (
            f"/subscriptions/{o.subscription_id}/resourcegroups/{o.resource_group}"
            f"/providers/microsoft.compute/virtualmachines/{o.name}".lower()
        )
    )


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    opened_at = factory.LazyFunction(timezone.now)

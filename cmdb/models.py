"""The configuration management database: the Azure resources incidents are about."""

from django.db import models
from django.db.models.functions import Lower

from core.models import TimeStampedModel

from .resource_ids import MAX_RESOURCE_ID_LENGTH


class ConfigurationItemQuerySet(models.QuerySet):
    def for_resource_id(self, resource_id: str) -> "ConfigurationItemQuerySet":
        """Match an Azure resource ID case-insensitively."""
        from .resource_ids import normalise_resource_id

        return self.filter(azure_resource_id=normalise_resource_id(resource_id))


class ConfigurationItem(TimeStampedModel):
    """One Azure resource (or subscription, or resource group) we track.

    `azure_resource_id` is stored normalised (lower case, no trailing slash), so the
    unique constraint makes matching case-insensitive and creation race-safe.
    """

    name = models.CharField(max_length=255)
    ci_class = models.CharField(
        "CI class",
        max_length=255,
        help_text="The Azure resource type, e.g. microsoft.compute/virtualmachines.",
    )
    # Null for items that are not Azure resources (entered by hand).
    azure_resource_id = models.CharField(  # noqa: DJ001 - NULLs never collide in a unique index
        "Azure resource ID", max_length=MAX_RESOURCE_ID_LENGTH, null=True, blank=True
    )
    subscription_id = models.CharField(max_length=64, blank=True, default="")
    resource_group = models.CharField(max_length=90, blank=True, default="")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    objects = ConfigurationItemQuerySet.as_manager()

    class Meta:
        verbose_name = "configuration item"
        ordering = ["name", "pk"]
        constraints = [
            # One CI per Azure resource: this is what makes "create when missing" race-safe.
            # Not partial, so INSERT .. ON CONFLICT (azure_resource_id) can use it.
            models.UniqueConstraint(
                fields=["azure_resource_id"], name="%(app_label)s_%(class)s_unique_resource_id"
            ),
            # Stored normalised; the constraint keeps a mixed-case ID from slipping in.
            models.CheckConstraint(
                condition=models.Q(azure_resource_id=Lower("azure_resource_id")),
                name="%(app_label)s_%(class)s_resource_id_lower",
            ),
        ]
        indexes = [
            models.Index(Lower("name"), name="cmdb_ci_name_lower"),
            models.Index(fields=["ci_class"], name="cmdb_ci_class"),
            models.Index(fields=["subscription_id", "resource_group"], name="cmdb_ci_sub_rg"),
            # The list's order: a page of 100 CIs is read from the index, not sorted.
            models.Index(fields=["name", "id"], name="cmdb_ci_name_id"),
        ]

    def __str__(self) -> str:
        return self.name

"""Azure resource IDs: normalising them and reading their parts. Pure functions."""

from dataclasses import dataclass

MAX_RESOURCE_ID_LENGTH = 1024
# The unique index on the normalised ID must hold it (a PostgreSQL btree row holds at most
# ~2700 bytes); UTF-8 bytes, so that an ID of four-byte characters is bounded too.
MAX_RESOURCE_ID_BYTES = 1024


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """What an Azure resource ID says about the resource it names."""

    resource_id: str  # normalised: lower case, no trailing slash
    name: str
    ci_class: str
    subscription_id: str
    resource_group: str


def normalise_resource_id(value: str) -> str:
    """Return the form we store and compare: Azure resource IDs are case-insensitive."""
    return value.strip().rstrip("/").lower()


def subscription_of(value: str) -> str:
    """Return the subscription a resource ID (or alert ID) lies in, lower case, or ""."""
    parts = value.strip().strip("/").split("/")
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1].lower()
    return ""


def _scope_and_type(parts: list[str]) -> tuple[str, str]:
    """Return (resource group, resource type) of a lower-cased, split resource ID.

    Read by position, not by searching for keywords: `providers` and `resourcegroups` are
    keywords only where ARM puts them, so a resource (or group) named "providers" is a name.
    Types sit at the even offsets after a provider namespace, names at the odd ones.
    """
    i, resource_group = 0, ""
    if len(parts) >= 2 and parts[0] == "subscriptions":
        i = 2
        if len(parts) >= 4 and parts[2] == "resourcegroups":
            resource_group, i = parts[3], 4
    resource_type = ""
    # The last provider section names the type: it handles extension resources too.
    while i + 1 < len(parts) and parts[i] == "providers":
        namespace, types = parts[i + 1], []
        i += 2
        while i < len(parts) and parts[i] != "providers":
            types.append(parts[i])
            i += 2  # skip the name that follows each type
        resource_type = "/".join([namespace, *types])
    return resource_group, resource_type


def parse_resource_id(value: str) -> ResourceRef:
    """Split a resource ID into name, class (resource type), subscription and resource group.

    `/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1`
    gives class `microsoft.compute/virtualmachines`; nested types join their segments
    (`microsoft.sql/servers/databases`). A bare subscription or resource group gets the
    class Azure Resource Manager uses for it.
    """
    resource_id = normalise_resource_id(value)
    original = value.strip().strip("/").split("/")
    parts = resource_id.strip("/").split("/")
    subscription = subscription_of(resource_id)
    resource_group, ci_class = _scope_and_type(parts)
    name = original[-1] if original and original[-1] else resource_id
    if not ci_class:
        if len(parts) == 2 and parts[0] == "subscriptions":
            ci_class = "microsoft.resources/subscriptions"
        elif len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
            ci_class = "microsoft.resources/resourcegroups"
        else:
            ci_class = "unknown"
    return ResourceRef(
        resource_id=resource_id,
        name=name[:255],
        ci_class=ci_class[:255],
        subscription_id=subscription[:64],
        resource_group=resource_group[:90],
    )

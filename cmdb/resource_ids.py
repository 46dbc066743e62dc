"""Azure resource IDs: normalising them and reading their parts. Pure functions."""

from dataclasses import dataclass

MAX_RESOURCE_ID_LENGTH = 1024


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
    resource_group = ""
    for i, part in enumerate(parts[:-1]):
        if part == "resourcegroups":
            resource_group = parts[i + 1]
            break
    name = original[-1] if original and original[-1] else resource_id
    ci_class = "unknown"
    if "providers" in parts:
        # The last provider section names the type: it handles extension resources too.
        p = len(parts) - 1 - parts[::-1].index("providers")
        namespace_and_rest = parts[p + 1 :]
        if namespace_and_rest:
            namespace, rest = namespace_and_rest[0], namespace_and_rest[1:]
            # rest alternates type, name, type, name...
            types = rest[0::2]
            ci_class = "/".join([namespace, *types]) if types else namespace
    elif len(parts) == 2 and parts[0] == "subscriptions":
        ci_class = "microsoft.resources/subscriptions"
    elif len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
        ci_class = "microsoft.resources/resourcegroups"
    return ResourceRef(
        resource_id=resource_id,
        name=name[:255],
        ci_class=ci_class[:255],
        subscription_id=subscription[:64],
        resource_group=resource_group[:90],
    )

import pytest

from cmdb.models import ConfigurationItem
from cmdb.services import ci_create, ci_update
from core.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

VM = "/subscriptions/AAAA/resourceGroups/RG1/providers/Microsoft.Compute/virtualMachines/VM1"


def test_ci_create_fills_what_the_resource_id_says() -> None:
    ci = ci_create(name="", ci_class="", azure_resource_id=VM)
    assert (ci.name, ci.ci_class, ci.subscription_id, ci.resource_group) == (
        "VM1",
        "microsoft.compute/virtualmachines",
        "aaaa",
        "rg1",
    )
    assert ci.azure_resource_id == VM.lower()


def test_ci_create_without_azure_resource() -> None:
    ci = ci_create(name="Core switch", ci_class="network/switch")
    assert ci.azure_resource_id is None
    assert ci_create(name="Edge switch", ci_class="network/switch").pk != ci.pk


def test_ci_create_refuses_a_second_ci_for_the_same_resource() -> None:
    ci_create(name="vm1", ci_class="x", azure_resource_id=VM)
    with pytest.raises(ApplicationError, match="exists already"):
        ci_create(name="again", ci_class="x", azure_resource_id=VM.upper())
    assert ConfigurationItem.objects.count() == 1


def test_ci_update_changes_descriptive_fields_only() -> None:
    ci = ci_create(name="vm1", ci_class="x", azure_resource_id=VM)
    ci_update(ci=ci, name="vm-one")
    ci.refresh_from_db()
    assert ci.name == "vm-one"
    with pytest.raises(ApplicationError, match="cannot be edited"):
        ci_update(ci=ci, azure_resource_id="/other")
    with pytest.raises(ApplicationError, match="needs a name"):
        ci_update(ci=ci, name=" ")


@pytest.mark.parametrize(
    "resource_id",
    [
        "/subscriptions/s/" + "\U0001f600" * 1000,  # 1,000 characters, 4,017 bytes
        "/subscriptions/s/" + "\u0130" * 600,  # 617 characters, 1,817 bytes in lower case
    ],
    ids=["four-byte", "grows-in-lower-case"],
)
def test_ci_create_refuses_resource_id_over_its_byte_limit(resource_id: str) -> None:
    with pytest.raises(ApplicationError, match="1024 bytes"):
        ci_create(name="x", ci_class="x", azure_resource_id=resource_id)
    assert not ConfigurationItem.objects.exists()


def test_ci_create_refuses_fields_that_grow_past_their_column_in_lower_case() -> None:
    with pytest.raises(ApplicationError, match="resource_group"):
        ci_create(name="x", ci_class="x", resource_group="\u0130" * 90)
    with pytest.raises(ApplicationError, match="ci_class"):
        ci_create(name="x", ci_class="\u0130" * 255)
    assert not ConfigurationItem.objects.exists()

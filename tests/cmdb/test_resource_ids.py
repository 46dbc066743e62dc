"""Azure resource IDs: normalising, reading the subscription, and splitting into CI fields."""

import pytest

from cmdb.resource_ids import (
    ResourceRef,
    normalise_resource_id,
    parse_resource_id,
    subscription_of,
)
from tests.helpers import SUBSCRIPTION as SUB

VM = (
    f"/subscriptions/{SUB}/resourceGroups/Test-RG/providers/Microsoft.Compute/virtualMachines/"
    + "Test-VM"
)


def test_parse_resource_id_reads_virtual_machine() -> None:
    assert parse_resource_id(VM) == ResourceRef(
        resource_id=VM.lower(),
        name="Test-VM",
        ci_class="microsoft.compute/virtualmachines",
        subscription_id=SUB,
        resource_group="test-rg",
    )


def test_parse_resource_id_joins_nested_types() -> None:
    ref = parse_resource_id(
        f"/subscriptions/{SUB}/resourceGroups/data/providers/Microsoft.Sql/servers/sql-1"
        "/databases/Orders"
    )

    assert ref.ci_class == "microsoft.sql/servers/databases"
    assert ref.name == "Orders"
    assert ref.resource_group == "data"


def test_parse_resource_id_takes_type_of_extension_resource() -> None:
    ref = parse_resource_id(f"{VM}/providers/Microsoft.Insights/diagnosticSettings/to-workspace")

    assert ref.ci_class == "microsoft.insights/diagnosticsettings"
    assert ref.name == "to-workspace"
    assert ref.subscription_id == SUB
    assert ref.resource_group == "test-rg"


def test_parse_resource_id_reads_bare_subscription() -> None:
    assert parse_resource_id(f"/subscriptions/{SUB.upper()}") == ResourceRef(
        resource_id=f"/subscriptions/{SUB}",
        name=SUB.upper(),
        ci_class="microsoft.resources/subscriptions",
        subscription_id=SUB,
        resource_group="",
    )


def test_parse_resource_id_reads_resource_group() -> None:
    ref = parse_resource_id(f"/subscriptions/{SUB}/resourceGroups/Test-RG")

    assert ref.ci_class == "microsoft.resources/resourcegroups"
    assert ref.name == "Test-RG"
    assert ref.resource_group == "test-rg"
    assert ref.subscription_id == SUB


def test_parse_resource_id_reads_tenant_level_resource() -> None:
    ref = parse_resource_id("/providers/Microsoft.Management/managementGroups/Contoso-Root")

    assert ref.ci_class == "microsoft.management/managementgroups"
    assert ref.name == "Contoso-Root"
    assert ref.subscription_id == ""
    assert ref.resource_group == ""


def test_parse_resource_id_ignores_trailing_slash_whitespace_and_case() -> None:
    shouted = parse_resource_id(f"  {VM.upper()}/ ")
    plain = parse_resource_id(VM)

    assert shouted.resource_id == plain.resource_id == VM.lower()
    assert shouted.ci_class == plain.ci_class
    assert shouted.subscription_id == plain.subscription_id
    assert shouted.resource_group == plain.resource_group
    assert shouted.name == "TEST-VM"  # the name keeps the case Azure sent


@pytest.mark.parametrize(
    ("resource_id", "ci_class", "name", "resource_group"),
    [
        # "providers" is a keyword only where ARM puts it; as a name it is just a name.
        (
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/"
            "providers",
            "microsoft.compute/virtualmachines",
            "providers",
            "rg",
        ),
        (
            f"/subscriptions/{SUB}/resourceGroups/providers",
            "microsoft.resources/resourcegroups",
            "providers",
            "providers",
        ),
        (
            f"/subscriptions/{SUB}/resourceGroups/providers/providers/Microsoft.Web/sites/shop",
            "microsoft.web/sites",
            "shop",
            "providers",
        ),
        (
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/providers"
            "/databases/orders",
            "microsoft.sql/servers/databases",
            "orders",
            "rg",
        ),
    ],
)
def test_parse_resource_id_treats_keyword_named_resources_as_names(
    resource_id: str, ci_class: str, name: str, resource_group: str
) -> None:
    ref = parse_resource_id(resource_id)

    assert ref.ci_class == ci_class
    assert ref.name == name
    assert ref.resource_group == resource_group


def test_parse_resource_id_names_unknown_shapes_unknown() -> None:
    ref = parse_resource_id(f"/subscriptions/{SUB}/resourceGroups/rg/providers")

    assert ref.ci_class == "unknown"
    assert ref.resource_group == "rg"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (VM, VM.lower()),
        (VM + "/", VM.lower()),
        (f" {VM}// ", VM.lower()),
        (VM.upper(), VM.lower()),
        (f"/subscriptions/{SUB.upper()}/", f"/subscriptions/{SUB}"),
    ],
)
def test_normalise_resource_id_lowers_and_trims(value: str, expected: str) -> None:
    assert normalise_resource_id(value) == expected


def test_normalise_resource_id_is_idempotent() -> None:
    once = normalise_resource_id(VM.upper() + "/")

    assert normalise_resource_id(once) == once


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (VM, SUB),
        (f"/SUBSCRIPTIONS/{SUB.upper()}", SUB),
        (f"/subscriptions/{SUB}/", SUB),
        (
            f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/"
            "eeeeeeee-4444-5555-6666-ffffffffffff",
            SUB,
        ),
        ("/providers/Microsoft.Management/managementGroups/root", ""),
        ("/subscriptions", ""),
        ("", ""),
        ("not-a-resource-id", ""),
    ],
)
def test_subscription_of_reads_subscription_in_lower_case(value: str, expected: str) -> None:
    assert subscription_of(value) == expected

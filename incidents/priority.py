"""The priority matrix: priority = f(impact, urgency), and Azure severity's defaults."""

from .choices import Impact, Priority, Severity, Urgency

# ITIL's usual 3x3 matrix.
PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (Impact.HIGH, Urgency.HIGH): Priority.CRITICAL,
    (Impact.HIGH, Urgency.MEDIUM): Priority.HIGH,
    (Impact.MEDIUM, Urgency.HIGH): Priority.HIGH,
    (Impact.HIGH, Urgency.LOW): Priority.MODERATE,
    (Impact.MEDIUM, Urgency.MEDIUM): Priority.MODERATE,
    (Impact.LOW, Urgency.HIGH): Priority.MODERATE,
    (Impact.MEDIUM, Urgency.LOW): Priority.LOW,
    (Impact.LOW, Urgency.MEDIUM): Priority.LOW,
    (Impact.LOW, Urgency.LOW): Priority.PLANNING,
}

# Chosen so the matrix gives the contract's priorities: Sev0→1 … Sev4→5, none→4.
SEVERITY_IMPACT_URGENCY: dict[str | None, tuple[int, int]] = {
    Severity.SEV0: (Impact.HIGH, Urgency.HIGH),
    Severity.SEV1: (Impact.HIGH, Urgency.MEDIUM),
    Severity.SEV2: (Impact.MEDIUM, Urgency.MEDIUM),
    Severity.SEV3: (Impact.MEDIUM, Urgency.LOW),
    Severity.SEV4: (Impact.LOW, Urgency.LOW),
    None: (Impact.LOW, Urgency.MEDIUM),
}


def priority_for(impact: int, urgency: int) -> int:
    """Return the priority the matrix gives an impact and an urgency."""
    return PRIORITY_MATRIX[(impact, urgency)]


def impact_urgency_for_severity(severity: str | None) -> tuple[int, int]:
    """Return the default impact and urgency of an Azure severity (None: no severity)."""
    return SEVERITY_IMPACT_URGENCY[severity]

"""The operators' console for incidents: the list, the lifecycle actions and the incident page.

Every change goes through `incidents.services`; the table of allowed state changes is
`services.TRANSITIONS`, shared with the webhook and the API. The buttons shown on a page
come from that table, and a refused change is reported, never dropped silently.
"""

from .configuration_item import ConfigurationItemAdmin as ConfigurationItemAdmin
from .incident import AssignmentGroupAdmin as AssignmentGroupAdmin
from .incident import IncidentAdmin as IncidentAdmin
from .lifecycle import LIFECYCLE as LIFECYCLE
from .lifecycle import Lifecycle as Lifecycle

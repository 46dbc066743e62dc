"""The operators' console for incidents: the list, the lifecycle actions and the incident page.

Every change goes through `incidents.services`. The buttons on a page and the list's bulk
actions come from the lifecycle table (`incidents.lifecycle.LIFECYCLE`), the one the API's
actions come from too; a refused change is reported, never dropped silently.
"""

from .configuration_item import ConfigurationItemAdmin as ConfigurationItemAdmin
from .incident import AssignmentGroupAdmin as AssignmentGroupAdmin
from .incident import IncidentAdmin as IncidentAdmin
from .sla import SlaTargetAdmin as SlaTargetAdmin

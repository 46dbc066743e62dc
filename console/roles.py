"""The two roles of the console and the API, as Django groups with model permissions.

`operators` work incidents (assign, change state, notes, manual incidents and CIs,
replay deliveries) and view everything else; `viewers` only view. The groups and their
permissions are created by migration `integrations.0003_roles`. Staff users who are in
neither group get nothing beyond what is granted to them one by one.
"""

OPERATORS = "operators"
VIEWERS = "viewers"
ROLES = (OPERATORS, VIEWERS)

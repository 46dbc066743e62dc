"""Date formats for English, the console's language: "2026-12-01 14:05 UTC" everywhere.

Django reads these instead of its own English formats (settings.FORMAT_MODULE_PATH), so the
admin's columns, read-only fields and history pages show the same format as our templates
(`{{ value|date:"DATETIME_FORMAT" }}`) and code (`core.display.datetime_display`). The zone
is part of the format: operators compare these times with Azure's, which are UTC.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"
# The labels of the date drill-down above a list (year, then month, then day).
YEAR_MONTH_FORMAT = "Y-m"
MONTH_DAY_FORMAT = "Y-m-d"

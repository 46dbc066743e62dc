"""The base package: what every app may use (time-stamped model, domain exceptions, API
helpers, permissions, logging, probes). It imports no app of ours."""

"""The console on top of the apps: dashboard, template tags and the operators/viewers roles."""

"""Settings of the app nodes tests/test_two_nodes.py starts: production's, read from the
environment as on a real host, except that static files are served without the manifest
`collectstatic` writes (the test runs no collectstatic; the console's sign-in page needs
its stylesheet's name).
"""

from itsm import settings as _base

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

STORAGES = {
    **_base.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

"""Test settings: the project's settings plus test-only concerns, nothing else."""

import os

# Tests never read a developer's `.env` (`make run` writes DJANGO_DEBUG=1 there), and
# neither do the processes they start, which inherit this environment.
os.environ["ITSM_DOTENV_PATH"] = ""
# Tests never run with a production secret; the settings require one when DEBUG is off.
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-0123456789-abcdefghijklmnop")

from itsm import settings as _base

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests send many bad tokens from 127.0.0.1 on purpose; the limiter's own tests turn it on.
WEBHOOK_AUTH_FAILURES_PER_MINUTE = 0

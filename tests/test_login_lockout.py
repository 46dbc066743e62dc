from typing import Any

import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_console_sign_in_locks_out_after_repeated_failures(client: Any, settings: Any) -> None:
    get_user_model().objects.create_user("olga", password="right-password-123", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(
            "/admin/login/", {"username": "olga", "password": "wrong"}, REMOTE_ADDR="10.9.9.9"
        )
        assert response.status_code == 200  # the form again, with an error
    locked = client.post(
        "/admin/login/", {"username": "olga", "password": "wrong"}, REMOTE_ADDR="10.9.9.9"
    )
    assert locked.status_code == 429
    # Even the right password is refused from there during the cool-off...
    again = client.post(
        "/admin/login/",
        {"username": "olga", "password": "right-password-123"},
        REMOTE_ADDR="10.9.9.9",
    )
    assert again.status_code == 429
    # ...but not from another address.
    elsewhere = client.post(
        "/admin/login/",
        {"username": "olga", "password": "right-password-123"},
        REMOTE_ADDR="10.1.1.1",
    )
    assert elsewhere.status_code == 302

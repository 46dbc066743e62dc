"""The console's channel form: the target and the secret are write-only."""

import json
from typing import Any

from django import forms

from .choices import ChannelKind
from .models import NotificationChannel


class NotificationChannelForm(forms.ModelForm):
    """Name, kind, enabled; a new target or secret replaces the stored one, never shown."""

    new_target = forms.CharField(
        required=False,
        label="Target",
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}),
        help_text="E-mail: addresses, one a line or comma-separated. Teams, Slack, webhook: the "
        "URL (https, or http on 127.0.0.1). Never shown again; leave empty to keep the stored one.",
    )
    new_secret = forms.CharField(
        required=False,
        label="Secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="webhook only: the HMAC-SHA256 key of X-ITSM-Signature. Leave empty to keep it.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["kind"].disabled = True  # a kind change would orphan the target
        else:
            self.fields["new_target"].required = True

    def target_value(self) -> object | None:
        """The new target as the service takes it, or None to keep the stored one."""
        raw = self.cleaned_data.get("new_target", "").strip()
        if not raw:
            return None
        if self.cleaned_data.get("kind", self.instance.kind) == ChannelKind.EMAIL:
            return [a.strip() for a in raw.replace(",", "\n").splitlines() if a.strip()]
        return raw

    @staticmethod
    def addresses_text(target: str) -> str:
        return "\n".join(json.loads(target))

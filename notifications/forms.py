from django import forms

from . import ssrf, throttle
from .models import Endpoint, Event


def too_many_endpoints() -> forms.ValidationError:
    limit = throttle.MAX_ENDPOINTS_PER_MEMBER
    return forms.ValidationError(
        f"You already have {limit} endpoints, the most a member can have. "
        "Delete one you no longer use to add another.",
        code="too_many_endpoints",
    )


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[(event.value, event.label) for event in Event if event != Event.TEST],
        widget=forms.CheckboxSelectMultiple,
        help_text="A test event can always be sent by hand.",
    )

    class Meta:
        model = Endpoint
        fields = ["url", "events", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if "url" not in self.changed_data:
            # Checked when it was saved, and again before every delivery: choosing other
            # events needs no lookup, and mustn't be refused for the ones before.
            return url
        # The check below looks the host up while a web thread waits (up to
        # ssrf.REGISTRATION_DNS_TIMEOUT): a member pointing URLs at a name server that
        # never answers could otherwise hold every thread. So it is counted per member.
        if not throttle.url_check_allowed(self.instance.owner):
            raise forms.ValidationError(
                "Too many URLs checked in the last few minutes. Try again later.",
                code="throttled",
            )
        try:
            ssrf.check_url(url)
        except ssrf.UnsafeURL as error:
            raise forms.ValidationError(str(error), code="unsafe_url") from error
        return url

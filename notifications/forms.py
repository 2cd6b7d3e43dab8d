from django import forms

from . import ssrf
from .models import Endpoint, Event


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
        try:
            ssrf.check_url(url)
        except ssrf.UnsafeURL as error:
            raise forms.ValidationError(str(error), code="unsafe_url") from error
        return url

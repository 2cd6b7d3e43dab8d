from urllib.parse import urlencode

from django import forms
from django.db.models import Q

from .checks import site_tasks
from .processes import served_by


def task_choices():
    paths = sorted(task.module_path for task in site_tasks())
    return [("", "Any task"), *((path, path.rpartition(".")[2]) for path in paths)]


def queue_choices():
    return [("", "Any queue"), *((name, name) for name in served_by())]


class FailureFilterForm(forms.Form):
    """Which failed tasks to list, or to retry or discard all at once."""

    task = forms.ChoiceField(required=False, choices=task_choices)
    queue = forms.ChoiceField(required=False, choices=queue_choices)
    exception = forms.CharField(
        required=False,
        max_length=255,
        label="Exception class",
        help_text="Its name (SMTPAuthenticationError) or full path.",
    )
    since = forms.DateTimeField(
        required=False,
        label="Failed since",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def filter(self, failures):
        data = self.cleaned_data
        if data["task"]:
            failures = failures.filter(task_path=data["task"])
        if data["queue"]:
            failures = failures.filter(queue_name=data["queue"])
        if name := data["exception"]:
            failures = failures.filter(
                Q(exception_class=name) | Q(exception_class__endswith=f".{name}")
            )
        if data["since"]:
            failures = failures.filter(failed_at__gte=data["since"])
        return failures

    def query(self) -> str:
        """The filter as a query string, for the links that keep it."""
        return urlencode({name: self.data[name] for name in self.fields if self.data.get(name)})

    def describe(self) -> str:
        data = self.cleaned_data
        parts = [data["task"].rpartition(".")[2]] if data["task"] else ["any task"]
        if data["queue"]:
            parts.append(f"queue {data['queue']}")
        if data["exception"]:
            parts.append(data["exception"])
        if data["since"]:
            parts.append(f"since {data['since']:%Y-%m-%d %H:%M %Z}")
        return ", ".join(parts)

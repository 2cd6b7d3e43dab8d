from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, UpdateView

from . import events, throttle
from .forms import EndpointForm, too_many_endpoints
from .models import Delivery, Endpoint, Event


def owned_endpoints(request):
    # Every lookup goes through this: another member's endpoint is a 404, not a 403,
    # so its existence isn't revealed either.
    return Endpoint.objects.filter(owner=request.user)


class EndpointListView(LoginRequiredMixin, CreateView):
    """The member's endpoints, and the form to add one."""

    form_class = EndpointForm
    template_name = "notifications/endpoint_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(endpoints=owned_endpoints(self.request), **kwargs)

    def get_form_kwargs(self):
        # The form counts URL checks per member, so it needs to know whose endpoint it is.
        return {**super().get_form_kwargs(), "instance": Endpoint(owner=self.request.user)}

    def form_valid(self, form):
        with transaction.atomic():
            if not throttle.endpoint_allowed(self.request.user):
                form.add_error(None, too_many_endpoints())
                return self.form_invalid(form)
            endpoint = form.save()
        messages.success(self.request, "Endpoint added. Its signing secret is below.")
        return redirect(reverse("notifications:endpoint", args=[endpoint.pk]) + "?reveal=1")


# The page can show the signing secret: keep it out of browser and proxy caches.
@method_decorator(never_cache, name="dispatch")
class EndpointDetailView(LoginRequiredMixin, UpdateView):
    """One endpoint: its settings, signing secret and delivery log."""

    form_class = EndpointForm
    template_name = "notifications/endpoint_detail.html"
    context_object_name = "endpoint"

    def get_queryset(self):
        return owned_endpoints(self.request)

    def get_context_data(self, **kwargs):
        deliveries = self.object.deliveries.all()[:50]
        return super().get_context_data(
            deliveries=deliveries,
            polling=any(delivery.status == Delivery.Status.PENDING for delivery in deliveries),
            reveal_secret="reveal" in self.request.GET,
            **kwargs,
        )

    def form_valid(self, form):
        if form.instance.is_active:
            form.instance.disabled_reason = ""
        # A new URL may answer: send to it again now. Only a new URL ends the rest, since
        # only a new URL is counted (EndpointForm.clean_url): re-saving the same one to
        # end each rest would let a receiver that never answers hold a thread per delivery.
        if "url" in form.changed_data:
            form.instance.resting_until = None
        form.save()
        messages.success(self.request, "Endpoint saved.")
        return redirect("notifications:endpoint", self.object.pk)


class DeliveryLogView(EndpointDetailView):
    """Just the delivery log, which static/js/poll.js swaps in while deliveries are pending."""

    template_name = "notifications/endpoint_detail.html#delivery-log"
    http_method_names = ["get"]


@login_required
@require_POST
def rotate_secret(request, pk):
    endpoint = get_object_or_404(owned_endpoints(request), pk=pk)
    endpoint.rotate_secret()
    messages.success(request, "New signing secret made. The old one no longer signs anything.")
    return redirect(reverse("notifications:endpoint", args=[pk]) + "?reveal=1")


def refuse_manual_send(request, pk):
    limit = settings.RATE_LIMITS["webhook_manual_send"]
    messages.error(
        request,
        f"You can send {limit['count']} deliveries by hand (test events and redeliveries) "
        f"in {limit['window_seconds'] // 60} minutes. Please wait a little and try again.",
    )
    return redirect("notifications:endpoint", pk)


@login_required
@require_POST
def send_test_event(request, pk):
    endpoint = get_object_or_404(owned_endpoints(request), pk=pk, is_active=True)
    with transaction.atomic():
        if not throttle.manual_send_allowed(request.user):
            return refuse_manual_send(request, pk)
        events.record_delivery(
            endpoint, Event.TEST, {"message": "A test event from your webhook page."}
        )
    messages.success(request, "Test event queued.")
    return redirect("notifications:endpoint", pk)


@login_required
@require_POST
def redeliver_failed(request, pk, delivery_pk):
    endpoint = get_object_or_404(owned_endpoints(request), pk=pk, is_active=True)
    with transaction.atomic():
        delivery = get_object_or_404(
            endpoint.deliveries.select_for_update(), pk=delivery_pk, status=Delivery.Status.FAILED
        )
        if not throttle.manual_send_allowed(request.user):
            return refuse_manual_send(request, pk)
        events.redeliver(delivery)
    messages.success(request, "Delivery queued again, with the same webhook-id.")
    return redirect("notifications:endpoint", pk)


@login_required
@require_POST
def delete_endpoint(request, pk):
    endpoint = get_object_or_404(owned_endpoints(request), pk=pk)
    endpoint.delete()
    messages.success(request, "Endpoint deleted, with its delivery log.")
    return redirect("notifications:endpoints")

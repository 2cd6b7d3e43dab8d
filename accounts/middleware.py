"""A request that found no place to hash a password gets a page saying so."""

import logging

from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from .hashers import HashingBusy

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class HashingBusyMiddleware:
    """Turn HashingBusy (accounts/hashers.py) into a 503 that asks the visitor to retry.

    The hash comes before anything is saved (Django sets a password on the user before
    saving it), so nothing is half-written: the visitor sends the same form again. The
    attempt has been counted by the login or signup throttle, like any other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, HashingBusy):
            return None
        # The view's name, not the path: a confirmation link's path holds its token.
        view = request.resolver_match.view_name if request.resolver_match else "?"
        logger.warning("Busy: answered 503 to %s (%s)", view, exception)
        response = render(request, "busy.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        add_never_cache_headers(response)
        return response

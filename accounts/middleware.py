"""A request that waited too long for its turn to hash a password gets a page saying so."""

import logging

from django.shortcuts import render

from .hashers import HashingBusy

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class HashingBusyMiddleware:
    """Turn HashingBusy (accounts/hashers.py) into a 503 that asks the visitor to retry.

    The hash comes before anything is saved (Django sets a password on the user before
    saving it), so nothing is half-written: the visitor sends the same form again.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, HashingBusy):
            return None
        logger.warning("Busy, answered 503 to %s: %s", request.path, exception)
        response = render(request, "busy.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

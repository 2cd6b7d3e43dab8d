from .durations import durations as account_durations


def durations(request):
    """Link lifetimes and rate-limit windows, worded from settings (see accounts/durations.py)."""
    return account_durations()

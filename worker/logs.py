"""What the workers' log records say about a task's ExpectedFailure."""

import logging

from .policies import ExpectedFailure


class ExpectedFailuresInOneLine(logging.Filter):
    """A LOGGING filter: a record about an ExpectedFailure becomes a warning without the
    traceback, which is of no use for an outcome the task chose."""

    def filter(self, record):
        if record.exc_info and isinstance(record.exc_info[1], ExpectedFailure):
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True

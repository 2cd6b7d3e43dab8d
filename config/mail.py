"""Mail for development: a file backend whose links you can click."""

import email.policy

from django.core.mail.backends.filebased import EmailBackend

# Keep lines whole up to RFC 5322's limit: no quoted-printable "=" break cuts a link in two.
READABLE = email.policy.default.clone(max_line_length=998)


class ReadableFileEmailBackend(EmailBackend):
    def write_message(self, message):
        self.stream.write(message.message(policy=READABLE).as_bytes() + b"\n")
        self.stream.write(b"-" * 79 + b"\n")

"""A password hasher that counts its work, so tests can show when a password was hashed."""

from django.contrib.auth.hashers import MD5PasswordHasher


class CountingHasher(MD5PasswordHasher):
    """MD5 for speed; `verify` hashes through `encode` too, so each call here is one hash."""

    algorithm = "counting_md5"
    calls: list[str] = []

    def encode(self, password, salt):
        self.calls.append(password)
        return super().encode(password, salt)

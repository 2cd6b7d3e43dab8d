from django.core.management.base import BaseCommand

from accounts import search
from accounts.models import User


class Command(BaseCommand):
    help = "Rebuild every member's directory entry, in batches, from the current rows."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Members per batch; memory use is bounded by this, not by the table size.",
        )

    def handle(self, *, batch_size, **options):
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1.")
            raise SystemExit(2)

        total = User.objects.count()
        done = indexed = 0
        last_pk = 0
        # Keyset pagination: each batch is a fresh query after the last id seen, so
        # nothing holds the whole table in memory and deep pages stay as fast as the first.
        while True:
            batch = list(
                User.objects.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            indexed += search.rebuild_entries(batch)
            done += len(batch)
            last_pk = batch[-1]
            self.stdout.write(f"{done}/{total} members checked, {indexed} indexed")
        self.stdout.write(self.style.SUCCESS(f"Done: {indexed} of {done} members in the index."))

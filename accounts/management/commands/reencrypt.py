"""Re-encrypts every encrypted text of every model with the newest FIELD_ENCRYPTION_KEYS key.

Key rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keeping the old ones after it),
restart the app, run this command, then remove the old keys. Safe to run while the app serves
requests and safe to run twice: each row is rewritten only if it still holds the token that was
read, so a concurrent edit (already encrypted with the new key) is never overwritten.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from intimacy import crypto
from intimacy.crypto import encrypted_fields

BATCH = 500


def rotate_field(model: type, name: str) -> int:
    """Rotates one column, in batches by primary key; returns the number of rows rewritten."""
    # Cast to a plain text: the stored token, not decrypted.
    raw = model._base_manager.exclude(**{f"{name}__isnull": True}).annotate(
        raw=Cast(name, output_field=TextField())
    )
    rewritten = 0
    last_pk = None
    while True:
        batch = raw.order_by("pk")
        if last_pk is not None:
            batch = batch.filter(pk__gt=last_pk)
        rows = list(batch.values_list("pk", "raw")[:BATCH])
        if not rows:
            return rewritten
        with transaction.atomic():
            for pk, token in rows:
                if not token:
                    continue
                new = crypto.rotate(token)
                rewritten += (
                    model._base_manager.filter(pk=pk)
                    .filter(**{name: Value(token, output_field=TextField())})
                    .update(**{name: Value(new, output_field=TextField())})
                )
        last_pk = rows[-1][0]


class Command(BaseCommand):
    help = "Re-encrypts every encrypted field with the newest FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options) -> None:
        total = 0
        for model, names in encrypted_fields():
            for name in names:
                count = rotate_field(model, name)
                total += count
                self.stdout.write(f"{model._meta.label}.{name}: {count} re-encrypted")
        self.stdout.write(f"Done: {total} values now use the newest key.")

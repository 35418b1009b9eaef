"""What a person may ask of all their data at once: its export and its erasure.

Both need every app, so they are composed here, above the apps, and the apps' imports keep
pointing one way (checkins → agreements → accounts): each app gives its own part, and only this
module knows them all.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import erasure
from accounts import export as accounts_export
from accounts.models import Partner, User
from agreements import export as agreements_export
from agreements import partnership, therapy
from agreements.models import TherapistAccess
from checkins import export as checkins_export
from checkins import services as checkins

FORMAT = "rules-of-the-road-export"
FORMAT_VERSION = 1


def export_data(user: User) -> dict:
    """Everything the app holds about one person, for machines: their account; for a partner,
    every couple they were part of with its agreement and check-ins; for a therapist, their own
    accesses, notes and links, never the couples' data."""
    data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": accounts_export.iso(timezone.now()),
        "account": accounts_export.account_data(user),
    }
    if user.is_therapist:
        return data | agreements_export.therapist_data(user)
    data["drafts"] = agreements_export.drafts_data(user)
    data["couples"] = [
        agreements_export.couple_data(seat) | {"checkins": checkins_export.checkins_for(seat)}
        for seat in accounts_export.seats_of(user)
    ]
    return data


def export_markdown(user: User) -> str:
    """The same data for a person to read."""
    data = export_data(user)
    checkins_of = {
        couple["id"]: checkins_export.markdown(couple["checkins"])
        for couple in data.get("couples", [])
    }
    return agreements_export.markdown(data, before_timeline=checkins_of)


def delete_account(*, user: User, current_session_key: str | None = None) -> None:
    """Ends the current partnership (archiving the agreement, the other partner emailed
    neutrally) and a therapist's accesses, erases the check-in answers nobody else could read,
    then deletes the person, every couple nobody can open any more and every session they have.
    One transaction: either all of it happens, or nothing."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        erasure.end_partnership_of(user=user)
        _end_therapist_accesses(user)
        checkins.erase_for(user=user)
        # Their words leave with them: every couple they were in ended (just now, or before).
        for seat_id in Partner.objects.filter(user=user).values_list("pk", flat=True):
            _remove_words_of(seat_id)
        leaving = erasure.delete_person(user=user, current_session_key=current_session_key)
        for couple in erasure.unreachable_couples(leaving.couple_ids):
            partnership.erase_couple_data(couple=couple)  # its check-ins go with the couple
        erasure.end_sessions(leaving.session_keys)


def remove_words(*, user: User, agreement_id: int) -> None:
    """A former partner takes their own words out of an ended partnership's archive: their notes,
    comments and check-in answers read "removed by its author", their ratings leave the chart;
    the rules' wording stays. One transaction, an event in the couple's timeline (moving the
    revision). What deleting an account does for each of the person's couples."""
    with transaction.atomic():
        seat_id = (
            Partner.objects.filter(
                user=user, couple__agreement__pk=agreement_id, couple__ended_at__isnull=False
            )
            .values_list("pk", flat=True)
            .first()
        )
        if seat_id is None:
            raise partnership.NotYours(
                _("Only a former partner takes their words from an archive.")
            )
        _remove_words_of(seat_id)


def _remove_words_of(seat_id: int) -> None:
    # The check-ins' locks first (couple, agreement, check-ins, answers: their service's order),
    # then the agreement's notes and comments and the seat, under the locks already held.
    checkins.remove_words_of(seat_id=seat_id)
    partnership.remove_words_of(seat_id=seat_id)


def _end_therapist_accesses(user: User) -> None:
    live = [TherapistAccess.Status.REQUESTED, TherapistAccess.Status.ACTIVE]
    for access_id in TherapistAccess.objects.filter(therapist=user, status__in=live).values_list(
        "pk", flat=True
    ):
        # Recorded in the couple's timeline, by "former therapist" once the row is gone.
        therapy.end_access(access_id=access_id, therapist=user)

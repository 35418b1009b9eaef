"""Who may read or change a check-in: every gate of the checkins app.

A gate returns the object together with the `Viewer` who asked, or raises Http404: a check-in of
another couple is not found, never forbidden. A partner of an ended couple reads their check-ins
(Viewer.FORMER) but changes nothing; a therapist reads a revealed check-in only while both
partners share it and the access is live. Everything is read from the database on every request.
"""

from django.db.models import Prefetch
from django.http import Http404, HttpRequest

from accounts.models import Partner, User
from agreements.access import Viewer, id_or_404, seat_or_404, therapist_access_or_404
from agreements.models import Agreement, CheckInInvitation
from checkins.models import CheckIn


def _partners() -> Prefetch:
    """The couple's seats, current and former, each with its person (their names)."""
    return Prefetch(
        "couple__partners",
        queryset=Partner.objects.select_related("user").order_by("joined_at", "pk"),
    )


def _seat_among(partners: list[Partner], user: User) -> Partner | None:
    return next((p for p in partners if p.user_id == user.pk), None)


def partner_checkins_or_404(request: HttpRequest) -> tuple[Agreement, Viewer, list[Partner]]:
    """The check-in list's gate: the signed-in partner's current agreement, the Viewer, and every
    partner of the couple. Without a current couple: NotLinked (the page with the next step)."""
    seat = seat_or_404(request)
    return seat.couple.agreement, Viewer(Viewer.PARTNER, seat), list(seat.couple.seats)


def past_checkins_or_404(
    request: HttpRequest, agreement_id: int
) -> tuple[Agreement, Viewer, list[Partner]]:
    """The check-ins of a partnership that ended, by its archived agreement: for a person who was
    a partner in it (read-only, Viewer.FORMER), with the couple's partners."""
    id_or_404(agreement_id)
    seat = (
        Partner.objects.select_related("couple__agreement", "user")
        .prefetch_related(_partners())
        .filter(
            user=request.user, couple__agreement__pk=agreement_id, couple__ended_at__isnull=False
        )
        .first()
    )
    if seat is None:
        raise Http404
    return seat.couple.agreement, Viewer(Viewer.FORMER, seat), list(seat.couple.partners.all())


def therapist_couple_or_404(request: HttpRequest, agreement_id: int) -> tuple[Agreement, Viewer]:
    """The agreement of the signed-in therapist's live client couple (the shared check-ins)."""
    live = therapist_access_or_404(request, agreement_id)
    return live.agreement, Viewer(Viewer.THERAPIST, therapist_access=live)


def checkin_of_partner_or_404(
    request: HttpRequest, checkin_id: int
) -> tuple[CheckIn, Viewer, list[Partner]]:
    """(check-in, Viewer, the couple's partners): a check-in of a couple the signed-in person has
    a seat in, with its couple, agreement and who started it (two queries). The seat may be a
    past one: an ended couple's check-ins stay readable, read-only, as its agreement does;
    viewer.may_act only for a current partner of a couple that goes on."""
    id_or_404(checkin_id)
    checkin = (
        CheckIn.objects.select_related("couple__agreement", "started_by__user")
        .prefetch_related(_partners())
        .filter(pk=checkin_id, couple__partners__user=request.user)
        .first()
    )
    if checkin is None:
        raise Http404
    partners = list(checkin.couple.partners.all())
    seat = _seat_among(partners, request.user)
    current = seat.left_at is None and checkin.couple.ended_at is None
    return checkin, Viewer(Viewer.PARTNER if current else Viewer.FORMER, seat), partners


def shared_checkin_for_therapist_or_404(
    request: HttpRequest, agreement_id: int, checkin_id: int
) -> tuple[CheckIn, Viewer]:
    """(check-in, Viewer): a revealed check-in of the therapist's live client, shared by both
    partners, asked afresh on every request: when either stops sharing, the next one is a 404."""
    live = therapist_access_or_404(request, agreement_id)
    id_or_404(checkin_id)
    checkin = (
        CheckIn.objects.select_related("couple", "started_by__user")
        .filter(pk=checkin_id, couple_id=live.agreement.couple_id, revealed_at__isnull=False)
        .first()
    )
    if checkin is None:
        raise Http404
    shared = list(checkin.answers.values_list("shared_with_therapist", flat=True))
    if len(shared) != 2 or not all(shared):
        raise Http404
    return checkin, Viewer(Viewer.THERAPIST, therapist_access=live)


def exercise_of_partner_or_404(request: HttpRequest, invitation_id: int) -> tuple[int, Viewer]:
    """A check-in a therapist invited the signed-in partner's current couple to."""
    id_or_404(invitation_id)
    seat = (
        Partner.objects.select_related("couple")
        .filter(user=request.user, left_at__isnull=True)
        .first()
    )
    if seat is None:
        raise Http404  # an object of a couple: outsiders learn nothing
    if not CheckInInvitation.objects.filter(
        pk=invitation_id, agreement__couple_id=seat.couple_id
    ).exists():
        raise Http404
    return invitation_id, Viewer(Viewer.PARTNER, seat)

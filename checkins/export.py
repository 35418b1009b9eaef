"""The check-ins part of a partner's export (intimacy/privacy.py composes the whole document):
your own answers always, your partner's only once the check-in is revealed (never the words of a
check-in that was let go or went stale). The status is the one every screen shows: a check-in
the clock has closed is "closed" though its row may not say so yet."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.export import iso as _iso
from accounts.models import Partner
from checkins.models import Answer, CheckIn


def _answer(answer: Answer, you: bool) -> dict:
    return {
        "by": answer.partner.name,
        "is_you": you,
        "sensation": answer.sensation,
        "emotion": answer.emotion,
        "want": answer.want,
        "overall": answer.overall,
        "overall_label": answer.get_overall_display() if answer.overall else None,
        "wanted_to_stop": answer.wanted_to_stop or None,
        "sealed_at": _iso(answer.sealed_at),
        "reply": answer.reply,
        "replied_at": _iso(answer.replied_at),
        "shared_with_therapist": answer.shared_with_therapist,
        "removed": answer.removed,
    }


def checkins_for(seat: Partner) -> list[dict]:
    """Every check-in of the seat's couple, oldest first."""
    checkins = (
        CheckIn.objects.filter(couple_id=seat.couple_id)
        .prefetch_related("answers__partner__user")
        .order_by("created_at", "pk")
    )
    result = []
    for checkin in checkins:
        answers = [
            _answer(a, a.partner_id == seat.pk)
            for a in checkin.answers.all()
            if a.partner_id == seat.pk or checkin.is_revealed
        ]
        result.append(
            {
                "id": checkin.pk,
                "topic": checkin.topic,
                "status": checkin.status,
                "created_at": _iso(checkin.created_at),
                "revealed_at": _iso(checkin.revealed_at),
                "closed_at": _iso(checkin.closed_at),
                "answers": answers,
            }
        )
    return result


def markdown(checkins: list[dict]) -> list[str]:
    """The "Check-ins" section of a couple in the Markdown export (before its timeline)."""
    if not checkins:
        return []
    lines = [_("### Check-ins"), ""]
    for checkin in checkins:
        title = checkin["topic"] or _("Check-in")
        started = checkin["created_at"]
        if started:
            started = timezone.localtime(datetime.fromisoformat(started)).strftime("%Y-%m-%d %H:%M")
        heading = _("#### %(title)s (%(status)s, started %(started)s)")
        lines += [heading % {"title": title, "status": checkin["status"], "started": started}, ""]
        for answer in checkin["answers"]:
            if answer["is_you"]:
                lines.append(_("- %(name)s (you):") % {"name": answer["by"]})
            else:
                lines.append(f"- {answer['by']}:")
            if answer["removed"]:
                lines.append(_("  - (removed by its author)"))
                continue
            for key, label in (
                ("sensation", _("Sensation")),
                ("emotion", _("Emotion")),
                ("want", pgettext("check-in", "Want")),
            ):
                if answer[key]:
                    lines.append(f"  - {label}: {answer[key]}")
            if answer["overall_label"]:
                lines.append(_("  - Overall: %(overall)s") % {"overall": answer["overall_label"]})
            if answer["wanted_to_stop"]:
                lines.append(
                    _("  - Wanted to stop and did not say so: %(answer)s")
                    % {"answer": answer["wanted_to_stop"]}
                )
            if answer["reply"]:
                lines.append(_("  - Reply: %(reply)s") % {"reply": answer["reply"]})
        if not checkin["answers"]:
            lines.append(_("- No answer of yours is kept."))
        lines.append("")
    return lines

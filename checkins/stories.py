"""Demo check-ins for seed_demo (development only)."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import Partner, User
from checkins import services
from checkins.models import CheckIn


def _aged(checkin: CheckIn, days: int) -> None:
    moment = timezone.now() - timedelta(days=days)
    CheckIn.objects.filter(pk=checkin.pk).update(created_at=moment, touched_at=moment)


def seed_demo_checkins(
    alice_seat: Partner, bob_seat: Partner, carol_seat: Partner, dave_seat: Partner, dana_user: User
) -> None:
    """alice and bob: one revealed check-in and one only alice has sealed; carol and dave: one
    revealed check-in both share with their therapist dana. Does nothing if they have some."""
    if not CheckIn.objects.filter(couple_id=alice_seat.couple_id).exists():
        first, _ = services.start(partner=bob_seat, topic="Saturday night")
        services.seal(
            partner=bob_seat,
            checkin=first,
            sensation="My shoulders let go halfway through.",
            emotion="Relieved, and close to you.",
            want="To start slower again next time.",
            overall=4,
            wanted_to_stop="no",
        )
        services.seal(
            partner=alice_seat,
            checkin=first,
            sensation="Warm, then a tight chest when we sped up.",
            emotion="Happy, and a little scared at that moment.",
            want="To say 'slower' out loud when I feel it, and for that to be easy.",
            overall=3,
            wanted_to_stop="yes",
        )
        services.add_reply(
            partner=bob_seat, checkin=first, text="Thank you for telling me. Slower is good."
        )
        _aged(first, 6)
        CheckIn.objects.filter(pk=first.pk).update(revealed_at=timezone.now() - timedelta(days=6))
        second, _ = services.start(partner=alice_seat, topic="This morning")
        services.seal(
            partner=alice_seat,
            checkin=second,
            sensation="Sleepy and soft.",
            emotion="Content.",
            want="More mornings like this.",
            overall=5,
        )
    if not CheckIn.objects.filter(couple_id=carol_seat.couple_id).exists():
        shared, _ = services.start(partner=carol_seat, topic="After the session")
        services.seal(
            partner=carol_seat,
            checkin=shared,
            emotion="Tender and a bit unsure.",
            want="To keep talking about what support looks like.",
            overall=4,
        )
        services.seal(
            partner=dave_seat,
            checkin=shared,
            sensation="Calm breathing.",
            want="To ask before changing pace.",
            overall=4,
            wanted_to_stop="no",
        )
        for seat in (carol_seat, dave_seat):
            services.set_sharing(partner=seat, checkin=shared, share=True)

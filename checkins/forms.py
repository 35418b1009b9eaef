from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from agreements.forms import text_area
from checkins.models import MAX_ANSWER, MAX_REPLY, MAX_TOPIC, Answer

OVERALL_CHOICES = [(str(v), label) for v, label in Answer.Overall.choices]


class StartForm(forms.Form):
    topic = forms.CharField(
        label=_("What is it about? (optional)"),
        help_text=_('A few words, like "Saturday night". Your partner sees them.'),
        max_length=MAX_TOPIC,
        required=False,
        strip=True,
    )
    rules = forms.TypedMultipleChoiceField(
        label=_("Rules it touches on (optional)"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, rule_choices: list[tuple[int, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rules"].choices = list(rule_choices)


def _text(label: str, help_text: str) -> forms.CharField:
    return text_area(
        label,
        MAX_ANSWER,
        3,
        help_text=help_text,
        required=False,
        error_messages={
            "max_length": _("Keep it under %(limit_value)d characters (it has %(show_value)d).")
        },
    )


class AnswerForm(forms.Form):
    sensation = _text(
        _("Sensation"),
        _("What you noticed in your body, just as it was: warm, tight, tingling, tired, numb."),
    )
    emotion = _text(
        _("Emotion"),
        _("What you felt along with it: glad, scared, sad, angry, tender, ashamed, excited."),
    )
    want = _text(
        pgettext_lazy("check-in", "Want"),
        _(
            "What you want, for next time or right now. Only you can know it, so nobody can argue "
            "with it."
        ),
    )
    overall = forms.TypedChoiceField(
        label=_("Overall, for me it was"),
        choices=OVERALL_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    wanted_to_stop = forms.ChoiceField(
        label=_("Was there a moment you wanted to stop and did not say so?"),
        choices=Answer.WantedToStop.choices,
        required=False,
        widget=forms.RadioSelect,
    )

    def clean_wanted_to_stop(self):
        return self.cleaned_data["wanted_to_stop"] or None

    def clean(self):
        data = super().clean()
        if not self.errors and not any(
            data.get(name) not in (None, "")
            for name in ("sensation", "emotion", "want", "overall", "wanted_to_stop")
        ):
            raise forms.ValidationError(
                _("Write or choose at least one thing before sealing: any one of them is enough.")
            )
        return data


class ReplyForm(forms.Form):
    text = text_area(
        _("A short reply to your partner's answer"),
        MAX_REPLY,
        2,
        error_messages={
            "required": _("Write something first: the reply is empty."),
            "max_length": _(
                "Keep the reply under %(limit_value)d characters (it has %(show_value)d)."
            ),
        },
    )


class ShareForm(forms.Form):
    share = forms.TypedChoiceField(
        choices=[("yes", _("Share")), ("no", _("Stop sharing"))], coerce=lambda v: v == "yes"
    )

from django import forms
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts import profile
from accounts.models import User
from intimacy.validators import TIME_ZONE_MESSAGE, time_zones, validate_one_line

LANGUAGE_MESSAGE = _("Choose one of the languages in the list.")


def language_choices() -> list[tuple[str, str]]:
    """Each language named in itself, and "" for the browser's wish (Accept-Language)."""
    return [("", _("The language my browser asks for")), *settings.LANGUAGES]


def language_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Your language: the app and your emails are in it"),
        choices=language_choices,
        required=False,
        error_messages={"invalid_choice": LANGUAGE_MESSAGE},
    )


class SignupForm(forms.Form):
    """allauth's sign-up form gains the name shown to a partner, and the kind of account."""

    display_name = forms.CharField(
        label=_("Your name, as your partner will see it"),
        max_length=60,
        validators=[validate_one_line],
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    account_type = forms.ChoiceField(
        label=_("I am signing up as"),
        choices=[
            ("partner", _("A partner")),
            ("therapist", _("A therapist, to review my clients' agreements")),
        ],
        initial="partner",
        widget=forms.RadioSelect,
    )
    practice_name = forms.CharField(
        label=_("Practice name (therapists, optional)"),
        max_length=120,
        required=False,
        validators=[validate_one_line],
    )
    # The browser's language is offered first: what LocaleMiddleware chose for this page.
    language = language_field()
    # Filled by static/js/app.js with the browser's zone; without JavaScript it stays empty and
    # the account starts in UTC (changeable in Settings).
    time_zone = forms.CharField(
        required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-time-zone": ""})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        active = translation.get_language() or ""
        if active in dict(settings.LANGUAGES):
            self.fields["language"].initial = active

    def _post_clean(self) -> None:
        """Sign-up takes as long for an email that has an account as for a new one: allauth
        hashes the password only when it creates the account, so the same work is done here for
        an existing one (it then sends the "you already have an account" email instead)."""
        super()._post_clean()
        if getattr(self, "account_already_exists", False) and not self.errors:
            make_password(self.cleaned_data.get("password1") or "")

    def signup(self, request, user: User) -> None:
        """allauth's hook once it made the account: written by the service, not here."""
        profile.complete_sign_up(
            user=user,
            display_name=self.cleaned_data["display_name"],
            is_therapist=self.cleaned_data["account_type"] == "therapist",
            practice_name=self.cleaned_data["practice_name"],
            time_zone=self.cleaned_data.get("time_zone", ""),
            language=self.cleaned_data.get("language", ""),
        )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Your partner's email (optional: we send them the link)"),
        required=False,
        max_length=254,
    )


def time_zone_choices() -> list[tuple[str, str]]:
    """Every zone this server knows, by its IANA name ("Europe/Berlin"), in order."""
    return [(zone, zone.replace("_", " ")) for zone in sorted(time_zones())]


class ProfileForm(forms.ModelForm):
    # Not sent (a form from before the field existed): the zone stays as it is.
    time_zone = forms.ChoiceField(
        label=_("Your time zone: every date and time you read is in it"),
        choices=time_zone_choices,
        required=False,
        error_messages={"invalid_choice": TIME_ZONE_MESSAGE},
    )
    # Not sent (a form from before the field existed): the language stays as it is.
    language = language_field()

    class Meta:
        model = User
        fields = ["display_name", "partner_update_emails"]
        labels = {
            "display_name": _("Your name, as your partner sees it"),
            "partner_update_emails": _(
                "Email me (at most once an hour, without any rule text) when my partner updates our agreement"
            ),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].initial = self.instance.time_zone
        self.fields["language"].initial = self.instance.language


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "I understand: my account and my personal data are deleted, and this cannot be undone"
        ),
        required=True,
        error_messages={
            "required": _("Tick the box to confirm that you want to delete your account.")
        },
    )

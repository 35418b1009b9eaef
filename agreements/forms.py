from django import forms
from django.utils.translation import gettext_lazy as _

from agreements.models import (
    MAX_LABEL,
    MAX_NOTE,
    MAX_PROMPT,
    MAX_TEXT,
    MAX_TITLE,
    REVIEW_CHOICES,
    TherapistAccess,
)
from intimacy.validators import validate_one_line


def text_area(label: str, max_length: int, rows: int, **more) -> forms.CharField:
    """A text area, its text stripped and at most `max_length` characters long; `more` as for a
    CharField (required, help_text, error_messages)."""
    return forms.CharField(
        label=label,
        max_length=max_length,
        strip=True,
        widget=forms.Textarea(attrs={"rows": rows}),
        **more,
    )


def note_field(label: str = _("Note for your partner (optional)")) -> forms.CharField:
    """The optional note that goes with an answer, a proposal or a withdrawal."""
    return text_area(label, MAX_NOTE, 2, required=False)


class WordingForm(forms.Form):
    title = forms.CharField(
        label=_("Short title (optional)"),
        max_length=MAX_TITLE,
        required=False,
        strip=True,
        validators=[validate_one_line],
    )
    text = text_area(
        _("Wording"),
        MAX_TEXT,
        4,
        error_messages={
            "required": _("Write the wording of the rule: it cannot be empty."),
            "max_length": _(
                "Keep the wording under %(limit_value)d characters (it has %(show_value)d)."
            ),
        },
    )
    note = note_field()


class ProposalForm(WordingForm):
    """A partner's wording put on the table: with the review date both accept with it."""

    review_after = forms.ChoiceField(
        label=_("Look at it again"),
        choices=REVIEW_CHOICES,
        required=False,
        help_text=_("When it comes up for review once you both accept it. None: it never lapses."),
        error_messages={"invalid_choice": _("Choose when to look at it again, or no review.")},
    )
    field_order = ["title", "text", "review_after", "note"]


class NoteForm(forms.Form):
    note = note_field()


class VersionForm(NoteForm):
    version = forms.IntegerField(min_value=1, max_value=2**62, widget=forms.HiddenInput)


class CommentForm(forms.Form):
    text = text_area(
        _("Comment"),
        MAX_TEXT,
        3,
        error_messages={"required": _("Write something first: the comment is empty.")},
    )
    rule = forms.IntegerField(
        required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput
    )


class ScopeForm(forms.Form):
    scope = forms.ChoiceField(
        label=_("What the two of you would share"),
        choices=TherapistAccess.Scope.choices,
        error_messages={
            "required": _("Choose what you would share."),
            "invalid_choice": _("Choose one of the two levels."),
        },
    )


class SuggestionForm(WordingForm):
    """A therapist's suggested rule or wording, with a note for the couple."""

    note = note_field(_("Note for the couple (optional)"))


MAX_SESSION_NOTE = 20_000


class SessionNoteForm(forms.Form):
    text = text_area(_("Notes (only you can read them)"), MAX_SESSION_NOTE, 6, required=False)


class ExerciseForm(forms.Form):
    prompt = text_area(
        _("Prompt for the check-in"),
        MAX_PROMPT,
        2,
        error_messages={"required": _("Write a short prompt for the check-in.")},
    )
    rule = forms.TypedChoiceField(
        label=_("About a rule (optional)"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, rules=(), **kwargs):
        super().__init__(*args, **kwargs)
        # An <option> holds no markup: the title (the couple's words) is isolated with Unicode's
        # first-strong isolate, the plain-text <bdi>, so "Rule 4:" stays whole in Hebrew.
        self.fields["rule"].choices = [("", _("No rule in particular"))] + [
            (
                rule.pk,
                _("Rule %(number)s: %(title)s")
                % {
                    "number": rule.position,
                    "title": f"\u2068{rule.shown_version.title}\u2069"
                    if rule.shown_version.title
                    else _("untitled"),
                },
            )
            for rule in rules
        ]


class LinkLabelForm(forms.Form):
    """The therapist's private name for a client link (therapy.label_client_link)."""

    label = forms.CharField(
        label=_("Your private label"),
        help_text=_("Only you see it, never the couple."),
        max_length=MAX_LABEL,
        required=False,
        strip=True,
        validators=[validate_one_line],
        error_messages={
            "max_length": _("A label can be at most %(limit_value)d characters."),
        },
    )


def first_error(form: forms.Form) -> str:
    """The first thing wrong with a form, for a message above it."""
    for errors in form.errors.values():
        return errors[0]
    return str(_("Something in the form was not right."))

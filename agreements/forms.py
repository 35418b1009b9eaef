from django import forms

from agreements.models import MAX_NOTE, MAX_TEXT, MAX_TITLE
from intimacy.validators import validate_one_line


class WordingForm(forms.Form):
    title = forms.CharField(
        label="Short title (optional)",
        max_length=MAX_TITLE,
        required=False,
        strip=True,
        validators=[validate_one_line],
    )
    text = forms.CharField(
        label="Wording",
        max_length=MAX_TEXT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": "Write the wording of the rule: it cannot be empty.",
            "max_length": "Keep the wording under %(limit_value)d characters (it has %(show_value)d).",
        },
    )
    note = forms.CharField(
        label="Note for your partner (optional)",
        max_length=MAX_NOTE,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Note for your partner (optional)",
        max_length=MAX_NOTE,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class VersionForm(NoteForm):
    version = forms.IntegerField(min_value=1, max_value=2**62, widget=forms.HiddenInput)


class CommentForm(forms.Form):
    text = forms.CharField(
        label="Comment",
        max_length=MAX_TEXT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write something first: the comment is empty."},
    )
    rule = forms.IntegerField(
        required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput
    )


class TherapistRequestForm(forms.Form):
    email = forms.EmailField(label="The therapist's account email", max_length=254)


def first_error(form: forms.Form) -> str:
    """The first thing wrong with a form, for a message above it."""
    for errors in form.errors.values():
        return errors[0]
    return "Something in the form was not right."

"""The agreement page of a person whose partner has not joined (yet, or again): the nine rules
every agreement starts with, and what they drafted about them (agreements.drafts), with where
they stand (an invitation waiting, declined or expired, an archive)."""

from dataclasses import dataclass

from accounts.models import User
from agreements.access import no_couple_context
from agreements.defaults import DEFAULT_RULES, in_active_language
from agreements.models import Draft


@dataclass(frozen=True)
class DefaultRule:
    position: int
    title: str
    text: str
    draft: Draft | None  # this person's different wording, if they wrote one


def solo_page(user: User) -> dict:
    drafts = list(Draft.objects.filter(user=user))
    changed = {d.default_position: d for d in drafts if d.default_position is not None}
    context = no_couple_context(user)
    context.update(
        defaults=[
            DefaultRule(position, title, text, changed.get(position))
            for position, (title, text) in enumerate(in_active_language(), start=1)
        ],
        new_drafts=[d for d in drafts if d.default_position is None],
    )
    return context


def draft_form_page(
    form, *, default: DefaultRule | None = None, draft: Draft | None = None
) -> dict:
    return {"form": form, "default": default, "draft": draft}


def default_rule(position: int) -> DefaultRule | None:
    if not 1 <= position <= len(DEFAULT_RULES):
        return None
    title, text = in_active_language()[position - 1]
    return DefaultRule(position, title, text, None)

from django.urls import path

from agreements.views import drafts, partner, rules

app_name = "agreements"

urlpatterns = [
    path("", partner.agreement, name="agreement"),
    path("poll/", partner.poll, name="poll"),
    path("timeline/", partner.timeline, name="timeline"),
    path("print/", partner.print_page, name="print"),
    path("pause/", partner.pause_everything, name="pause_everything"),
    path("reopen-all/", partner.reopen_all, name="reopen_all"),
    path("therapist/", partner.therapist_access, name="therapist_access"),
    path(
        "therapist/requests/<int:access_id>/",
        partner.therapist_request,
        name="therapist_request",
    ),
    path("therapist/invitation/<str:token>/", partner.client_link, name="client_link"),
    path(
        "suggestions/<int:suggestion_id>/adopt/",
        partner.adopt_suggestion,
        name="adopt_suggestion",
    ),
    path(
        "suggestions/<int:suggestion_id>/set-aside/",
        partner.set_aside_suggestion,
        name="set_aside_suggestion",
    ),
    path("rules/new/", partner.new_rule, name="new_rule"),
    path("drafts/new/", drafts.new_draft, name="new_draft"),
    path("drafts/rule/<int:position>/", drafts.change_default, name="change_default"),
    path("drafts/<int:draft_id>/", drafts.edit_draft, name="edit_draft"),
    path("drafts/<int:draft_id>/remove/", drafts.remove_draft, name="remove_draft"),
    path("rules/<int:rule_id>/", partner.history, name="history"),
    path("rules/<int:rule_id>/card/", rules.card, name="card"),
    path("rules/<int:rule_id>/answer/", rules.answer, name="answer"),
    path("rules/<int:rule_id>/accept/", rules.accept, name="accept"),
    path("rules/<int:rule_id>/not-yet/", rules.not_yet, name="not_yet"),
    path("rules/<int:rule_id>/decline/", rules.decline, name="decline"),
    path("rules/<int:rule_id>/change/", rules.change, name="change"),
    path("rules/<int:rule_id>/withdraw/", rules.withdraw, name="withdraw"),
    path("rules/<int:rule_id>/take-back/", rules.take_back, name="take_back"),
    path("rules/<int:rule_id>/reopen/", rules.reopen, name="reopen"),
    path("rules/<int:rule_id>/archive/", rules.archive, name="archive"),
    path("rules/<int:rule_id>/restore/", rules.restore, name="restore"),
    path("rules/<int:rule_id>/keep/", rules.keep, name="keep"),
    path("rules/<int:rule_id>/let-rest/", rules.let_rest, name="let_rest"),
    path("comments/", partner.reply, name="reply"),
    path("archived/<int:agreement_id>/", partner.archived, name="archived"),
    path(
        "archived/<int:agreement_id>/timeline/", partner.archived_timeline, name="archived_timeline"
    ),
    path("archived/<int:agreement_id>/print/", partner.archived_print, name="archived_print"),
]

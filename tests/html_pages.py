"""Every page of the app as people meet it, rendered by the test client: every project URL for
every role (tests/security_world.py), allauth's pages, the error pages, and the states of the
first minute the world does not hold (an invitation declined without an account, the page that
says so, a home whose invitation was declined). Shared by the HTML checks."""

from django.test import Client

from accounts import linking
from tests.conftest import client_for, make_user
from tests.security_world import build_world, every_page


def full_pages() -> list[tuple[str, str]]:
    """(label, HTML) of every whole HTML document answered (fragments left out)."""
    world = build_world()
    pages = []
    for label, response in every_page(world):
        if "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        if html.lstrip().lower().startswith("<!doctype html>"):
            pages.append((label, html))
    inviter = make_user("ines@example.org", "Ines")
    invitation = linking.create_invitation(inviter=inviter)
    stranger = Client()
    pages.append(
        ("invitation signed out", stranger.get(invitation.get_absolute_url()).content.decode())
    )
    token = stranger.cookies["csrftoken"].value
    declined = stranger.post(
        invitation.get_absolute_url(), {"choice": "decline", "csrfmiddlewaretoken": token}
    )
    pages.append(("invitation declined, signed out", declined.content.decode()))
    ines = client_for(inviter)
    pages.append(("home after a decline", ines.get("/").content.decode()))
    pages.append(("agreement alone after a decline", ines.get("/agreement/").content.decode()))
    return pages

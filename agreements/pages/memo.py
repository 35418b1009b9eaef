"""What a screen reads that cannot change without the agreement's revision changing, kept in this
worker process's own memory: never in the shared cache, on disk or in a log, because it holds
decrypted wording and notes.

Every change to an agreement's rules, versions, acceptances, notes and comments writes an event,
and every event bumps `Agreement.revision` in the same transaction (consent.record_event): the
poll's ETag rests on that already, and a committed revision never comes back. Only what a request
reads outside a transaction (so, committed) is kept. An entry is keyed by the agreement, its
revision and the partners' names (a rename writes no event), all read afresh by every request, so
the very next request after a change, on any app server, misses the old entry and reads the new
truth. What a viewer may see (the blind answer) is decided per request from these rows, never
stored here.
"""

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.contrib.messages import get_messages
from django.db import connection
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe


class WorkerMemo:
    """A small least-recently-used map, shared by the threads of one worker process. Values are
    read-only once stored: callers must not change what they get."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if connection.in_atomic_block:
            # Only what is committed is kept: inside a transaction that may still roll back, a
            # revision's number could come back later with other rows behind it.
            return make()
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            self.misses += 1
        value = make()  # outside the lock: a database read
        self.put(key, value)
        return value

    def get_many(self, keys: list[Hashable]) -> dict[Hashable, Any]:
        """The values kept for those of these keys that are here, for a caller that makes the
        missing ones in one go (and keeps them with `put`). Nothing inside a transaction."""
        if connection.in_atomic_block:
            return {}
        found = {}
        with self._lock:
            for key in keys:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    found[key] = self._entries[key]
            self.hits += len(found)
            self.misses += len(keys) - len(found)
        return found

    def put(self, key: Hashable, value: Any) -> None:
        if connection.in_atomic_block:
            return  # see get_or_make
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


# The sizes are for the pages a worker serves again and again; an entry is evicted least
# recently used first. Full, by the sizes of entries given below, a worker holds about 60 MB.

# What the agreement's screens read at one revision: the rules with their versions, live
# acceptances, comments and "not yet" notes, the comments on the whole agreement, the therapist
# access notes and offers, each viewer's "since your last visit", the printable page's rules: a
# few kilobytes each, several per agreement. (Word diffs have their own, in agreements/diff.py.)
page_rows = WorkerMemo(2048)
# The rendered rules of one viewer's page at one revision (pages/agreement.py, live_chunks),
# without the CSRF token: about 25 KB each.
live_html = WorkerMemo(256)
# A couple's check-ins with their decrypted answers, at one check-in and agreement revision
# (checkins/pages.py, couple_rows), and the list's extras.
checkin_rows = WorkerMemo(512)
# The rendered body of one partner's check-in list or check-in at those revisions, without the
# CSRF token.
checkin_html = WorkerMemo(512)
# The rendered section of one client couple on a therapist's home (pages/therapist.py,
# client_sections), with its last activity: about 1 KB each.
client_sections = WorkerMemo(2048)
# The partner's whole agreement page for one viewer, revision, visit and check-in revision
# (pages/agreement.py, kept_page), without the CSRF token: about 27 KB each.
agreement_pages = WorkerMemo(1024)
# The printable page for one viewer, revision and day (kept_print_page): about 3 KB each.
print_pages = WorkerMemo(1024)
# A partner's whole check-in list or check-in page (checkins/views.py), without the CSRF token.
checkin_pages = WorkerMemo(1024)


# Where a kept fragment or page had the CSRF token: each request puts its own there. Random per
# process, so that no wording can contain it.
TOKEN_MARK = f"csrf-{secrets.token_hex(16)}"


def kept_fragment(store: "WorkerMemo", key: Hashable, template: str, context) -> list[str]:
    """`template` rendered once per `key` (which must hold everything it shows, the viewer
    included) in this worker's memory, split where the CSRF token goes. `context()` gives its
    context; the caller joins the parts with this request's token."""

    def render() -> list[str]:
        html = render_to_string(template, {**context(), "csrf_token": TOKEN_MARK})
        return [mark_safe(part) for part in html.split(TOKEN_MARK)]  # noqa: S308 - our render

    return store.get_or_make(key, render)


def whole_page(request, store: "WorkerMemo", key: Hashable, render: Callable[[dict], str]) -> str:
    """A page kept whole in this worker's memory by `key` (which must hold everything the page
    shows but the CSRF token), with this request's token put in. A page with messages to show is
    rendered afresh and not kept; a kept page is served only while what the clock alone changes
    still holds (true_until). `render(extra)` renders the page with `extra` in its context."""
    token = get_token(request)
    if len(get_messages(request)):
        return render({"csrf_token": token})

    def with_holes() -> tuple[list[str], object]:
        request._true_until = None
        html = render({"csrf_token": TOKEN_MARK})
        return html.split(TOKEN_MARK), request._true_until

    chunks, until = store.get_or_make(key, with_holes)
    if until is not None and timezone.now() >= until:
        chunks, _ = with_holes()
    return token.join(chunks)


def true_until(request, moment) -> None:
    """Something shown on this page stops being true at `moment` by the clock alone (a check-in
    going stale): a page kept whole is served only until then."""
    current = getattr(request, "_true_until", None)
    request._true_until = moment if current is None else min(current, moment)

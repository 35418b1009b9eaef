"""The authentication backends: Django's and allauth's, with a leaner lookup of the signed-in user.

Every signed-in request reads its user, and nearly every page then reads the person's current
seat with its couple and agreement, and the couple's partners. Here all of it comes in one fixed
SQL statement, written once per process (building the user's query through the ORM's compiler
on every request was a fifth of the signed-in floor's time; docs/benchmarks.md) and, on
PostgreSQL, prepared once per connection (planning a join of six tables costs more than running
it). Everything is read afresh on every request, as it was; nothing about the user or the seat
is kept between requests. The seat's objects are only built when a gate asks for them
(`seat_read_with(user)`, agreements/access.py).
"""

from functools import cache

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from allauth.mfa.models import Authenticator
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.db import connections, router

from accounts.models import Couple, Partner, User
from intimacy.db import prepared_cursor

_ROWS_READ_WITH_USER = "_rows_read_with_user"
_SEAT_READ_WITH_USER = "_seat_read_with_user"
_SECOND_FACTOR_READ_WITH_USER = "_second_factor_read_with_user"
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
# The parts of the statement, in order: (table alias, model, the fields read (None: all), the
# join that brings it).
_PARTS = [
    ("u", User, None, ""),
    ("p", Partner, None, "LEFT JOIN {table} p ON p.user_id = u.id AND p.left_at IS NULL"),
    ("c", Couple, None, "LEFT JOIN {table} c ON c.id = p.couple_id"),
    ("a", "agreements.Agreement", None, "LEFT JOIN {table} a ON a.couple_id = c.id"),
    # Every seat of that couple with its person's name (a former partner's person is None): one
    # row each. The page shows their names; anything else of theirs is read when asked for.
    ("p2", Partner, None, "LEFT JOIN {table} p2 ON p2.couple_id = c.id"),
    ("u2", User, ["id", "display_name"], "LEFT JOIN {table} u2 ON u2.id = p2.user_id"),
]


@cache
def _statement(alias: str) -> tuple[str, list]:
    """The SELECT, and for each part its model, the names of the fields read and each column's
    converters (the backend's, then the field's own), as the compiler would apply them."""
    from django.apps import apps

    connection = connections[alias]
    quote = connection.ops.quote_name
    columns, joins, parts = [], [], []
    for table_alias, model, names, join in _PARTS:
        model = apps.get_model(model) if isinstance(model, str) else model
        fields = [f for f in model._meta.concrete_fields if names is None or f.name in names]
        converters = []
        for field in fields:
            column = field.get_col(table_alias)
            columns.append(f"{table_alias}.{quote(field.column)}")
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            converters.append((column, found))
        parts.append((model, [f.attname for f in fields] if names else None, converters))
        if join:
            joins.append(join.format(table=quote(model._meta.db_table)))
    # Whether the person has a real second factor (a therapist sees nothing without one):
    # recovery codes alone do not count, they only back up one.
    factors = Authenticator._meta
    types = ", ".join(["%s"] * len(SECOND_FACTORS))
    columns.append(
        f"EXISTS (SELECT 1 FROM {quote(factors.db_table)} f WHERE f.{quote('user_id')} = u.id "  # noqa: S608
        f"AND f.{quote('type')} IN ({types}))"
    )
    # Only quoted names of our own models go into it; the values are parameters.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(User._meta.db_table)} u {' '.join(joins)} "  # noqa: S608
        f"WHERE u.{quote(User._meta.pk.column)} = %s "
        "ORDER BY p2.joined_at, p2.id"  # Partner.Meta.ordering
    )
    return sql, parts


def read_user(user_id) -> User | None:
    alias = router.db_for_read(User)
    connection = connections[alias]
    sql, parts = _statement(alias)
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [*(t.value for t in SECOND_FACTORS), User._meta.pk.to_python(user_id)])
        rows = cursor.fetchall()
    if not rows:
        return None
    user = _objects(rows[0], parts[:1], alias, connection)[0]
    setattr(user, _ROWS_READ_WITH_USER, (rows, alias))
    setattr(user, _SECOND_FACTOR_READ_WITH_USER, bool(rows[0][-1]))
    return user


def _objects(row, parts, alias, connection) -> list:
    found, start = [], 0
    for model, names, converters in parts:
        values = []
        for value, (column, convert_all) in zip(row[start:], converters, strict=False):
            for convert in convert_all:
                value = convert(value, column, connection)
            values.append(value)
        start += len(converters)
        found.append(model.from_db(alias, names, values) if values[0] is not None else None)
    return found


@cache
def _agreement_columns(alias: str) -> tuple[int, int]:
    """Where the agreement's id and revision are in the statement's rows."""
    _, parts = _statement(alias)
    start = sum(len(converters) for _, _, converters in parts[:3])
    names = [column.target.attname for column, _ in parts[3][2]]
    return start + names.index("id"), start + names.index("revision")


def agreement_read_with(user) -> tuple[int, int] | None:
    """(id, revision) of the current agreement read together with this user (None: they have no
    current couple), straight from the row: the poll needs nothing else. Raises AttributeError
    for a user read any other way."""
    rows, alias = getattr(user, _ROWS_READ_WITH_USER)
    at_id, at_revision = _agreement_columns(alias)
    row = rows[0]
    return None if row[at_id] is None else (row[at_id], row[at_revision])


def second_factor_read_with(user) -> bool:
    """Whether this user had a real second factor when read at the start of the request. Raises
    AttributeError for a user read any other way."""
    return getattr(user, _SECOND_FACTOR_READ_WITH_USER)


def seat_read_with(user) -> Partner | None:
    """The current seat read together with this user at the start of the request (None: they
    have none), with its couple, agreement and the couple's partners (as prefetch_related leaves
    them: pages/agreement.py, partners_of). As of the start of the request: a view that changed
    any of it and reads again must ask the database. Raises AttributeError for a user read any
    other way."""
    try:
        return getattr(user, _SEAT_READ_WITH_USER)
    except AttributeError:
        rows, alias = getattr(user, _ROWS_READ_WITH_USER)
    seat = _build_seat(user, rows, alias)
    setattr(user, _SEAT_READ_WITH_USER, seat)
    return seat


def _build_seat(user: User, rows: list, alias: str) -> Partner | None:
    connection = connections[alias]
    _, parts = _statement(alias)
    width = len(parts[0][2])
    seat, couple, agreement = _objects(rows[0][width:], parts[1:4], alias, connection)
    if seat is None:
        return None
    seat.user = user
    seat.couple = couple
    if agreement is not None:
        couple.agreement = agreement
    partners = []
    seats_at = sum(len(converters) for _, _, converters in parts[:4])
    for row in rows:
        partner, person = _objects(row[seats_at:], parts[4:], alias, connection)
        if partner is not None:
            partner.user = person
            partner.couple = couple
            partners.append(partner)
    found = couple.partners.all()
    found._result_cache, found._prefetch_done = partners, True
    couple._prefetched_objects_cache = {"partners": found}
    return seat


class LeanUserLookup:
    def get_user(self, user_id):
        user = read_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(LeanUserLookup, DjangoModelBackend):
    pass


class AuthenticationBackend(LeanUserLookup, AllauthBackend):
    pass

"""The authentication backends: Django's and allauth's, with a leaner lookup of the signed-in user.

Every signed-in request reads its user, and nearly every page then reads the person's current
seat with its couple and agreement. Here both come in one fixed SQL statement, written once per
process (building the same query through the ORM's compiler on every request was a fifth of the
signed-in floor's time; docs/benchmarks.md). Everything is read afresh on every request, as it
was; nothing about the user or the seat is kept between requests. The gate (agreements/access.py)
takes the seat from here with `seat_read_with(user)` instead of asking again.
"""

from functools import cache

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.db import connections, router

from accounts.models import Couple, Partner, User

# On a user read here: their current seat (None when they have none), with its couple and
# agreement. Absent on a user read any other way.
SEAT_READ_WITH_USER = "_seat_read_with_user"
# The rows of the statement, in order, with the join that brings each.
_ROWS = [
    ("u", User, ""),
    ("p", Partner, "LEFT JOIN {table} p ON p.user_id = u.id AND p.left_at IS NULL"),
    ("c", Couple, "LEFT JOIN {table} c ON c.id = p.couple_id"),
    ("a", None, "LEFT JOIN {table} a ON a.couple_id = c.id"),
    # Every seat of that couple with its person (a former one's may be None): one row each.
    ("p2", Partner, "LEFT JOIN {table} p2 ON p2.couple_id = c.id"),
    ("u2", User, "LEFT JOIN {table} u2 ON u2.id = p2.user_id"),
]


def _agreement_model():
    from agreements.models import Agreement  # accounts must not import agreements at load time

    return Agreement


@cache
def _statement(alias: str) -> tuple[str, list]:
    """The SELECT, and for each model its fields and each column's converters (the backend's,
    then the field's own), as the compiler would apply them."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns, joins, models = [], [], []
    for table_alias, model, join in _ROWS:
        model = model or _agreement_model()
        fields = model._meta.concrete_fields
        converters = []
        for field in fields:
            column = field.get_col(table_alias)
            columns.append(f"{table_alias}.{quote(field.column)}")
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            converters.append((column, found))
        models.append((model, converters))
        if join:
            joins.append(join.format(table=quote(model._meta.db_table)))
    # Only quoted names of our own models go into it; the one value is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(User._meta.db_table)} u {' '.join(joins)} "  # noqa: S608
        f"WHERE u.{quote(User._meta.pk.column)} = %s "
        "ORDER BY p2.joined_at, p2.id"  # Partner.Meta.ordering
    )
    return sql, models


def read_user(user_id) -> User | None:
    alias = router.db_for_read(User)
    connection = connections[alias]
    sql, models = _statement(alias)
    with connection.cursor() as cursor:
        cursor.execute(sql, [User._meta.pk.to_python(user_id)])
        rows = cursor.fetchall()
    if not rows:
        return None
    user, seat, couple, agreement, _, _ = _objects(rows[0], models, alias, connection)
    if seat is not None:
        seat.user = user
        seat.couple = couple
        if agreement is not None:
            couple.agreement = agreement
        partners = []
        for row in rows:
            *_, partner, person = _objects(row, models, alias, connection)
            if partner is not None:
                partner.user = person
                partner.couple = couple
                partners.append(partner)
        # As prefetch_related("partners") leaves it (pages/agreement.py, partners_of).
        found = couple.partners.all()
        found._result_cache, found._prefetch_done = partners, True
        couple._prefetched_objects_cache = {"partners": found}
    setattr(user, SEAT_READ_WITH_USER, seat)
    return user


def _objects(row, models, alias, connection) -> list:
    found, start = [], 0
    for model, converters in models:
        values = []
        for value, (column, convert_all) in zip(row[start:], converters, strict=False):
            for convert in convert_all:
                value = convert(value, column, connection)
            values.append(value)
        start += len(converters)
        found.append(model.from_db(alias, None, values) if values[0] is not None else None)
    return found


def seat_read_with(user) -> Partner | None:
    """The current seat read together with this user at the start of the request (None: they
    have none). Raises AttributeError for a user read any other way."""
    return getattr(user, SEAT_READ_WITH_USER)


class LeanUserLookup:
    def get_user(self, user_id):
        user = read_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(LeanUserLookup, DjangoModelBackend):
    pass


class AuthenticationBackend(LeanUserLookup, AllauthBackend):
    pass

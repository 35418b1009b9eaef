"""Django's cache backends, as production needs them: the Redis one keeping one redis client per
connection pool, the database one never evicting an entry that is still live.

Django builds a new `redis.Redis` for every cache call (with its table of response callbacks);
on the signed-in path that is every request's session read. A client over a connection pool is
safe to share between threads, so one per pool is kept for the life of the backend.
"""

from django.core.cache.backends import db as django_db
from django.core.cache.backends import redis as django_redis
from django.db import connections


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient


class DatabaseCache(django_db.DatabaseCache):
    """Django's database cache, which past MAX_ENTRIES deletes the expired entries only.

    Django's also deletes a third of the live ones, the lowest keys first, and allauth's rate
    limits and lockouts sort first (":1:allauth:rl:..."): a few hundred people signed in (each
    session is cached), or a burst of requests naming as many new addresses, would wipe them all.
    Here a limit holds until its own window ends; the table holds what is live, and past
    MAX_ENTRIES each write clears what has expired."""

    def _cull(self, db, cursor, now, num):
        connection = connections[db]
        table, expires = (connection.ops.quote_name(name) for name in (self._table, "expires"))
        # Names from the settings, quoted; the one value is a parameter.
        sql = f"DELETE FROM {table} WHERE {expires} < %s"  # noqa: S608
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now)])

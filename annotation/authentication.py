"""Token auth that reads the user and the annotator role in one fixed SQL statement.

The permission check (``selectors.user_is_annotator``) would otherwise cost one more round
trip per API call on the two hot paths (next task, submit); reading it here, with the user,
keeps it exact (no cache to go stale when an admin removes someone from the group).

The statement is written once from the models' metadata and sent as it is: building it through
the ORM (a select_related join and an ``Exists`` annotation) cost ~2 ms of CPU per request on
the development machine, more than the whole submit-and-next service call; the raw statement
costs ~0.2 ms. Every API request made with a token pays this, so it is the framework's floor.
It is prepared once per connection (``annotation.prepared``): planning it each time cost
0.22 ms of PostgreSQL's CPU, five times running it.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotation.prepared import prepared_cursor

ANNOTATORS_GROUP = "annotators"  # same name as selectors.ANNOTATORS_GROUP (no import cycle)
_KEY_MAX_LENGTH = Token._meta.get_field("key").max_length


@cache
def _token_sql() -> tuple[str, list[str]]:
    """``SELECT <user columns>, <token columns>, <in annotators group> ... WHERE key = %s``
    and the user's field names in column order (for ``Model.from_db``)."""
    user = get_user_model()
    qn = connection.ops.quote_name
    user_fields = [f.attname for f in user._meta.concrete_fields]
    member = user.groups.through._meta
    columns = ", ".join(f"u.{qn(f.column)}" for f in user._meta.concrete_fields)
    sql = (
        f"SELECT {columns}, t.{qn('created')}, EXISTS ("
        f"SELECT 1 FROM {qn(member.db_table)} m JOIN {qn(Group._meta.db_table)} g "
        f"ON g.{qn('id')} = m.{qn('group_id')} "
        f"WHERE m.{qn('user_id')} = u.{qn(user._meta.pk.column)} AND g.{qn('name')} = %s) "
        f"FROM {qn(Token._meta.db_table)} t JOIN {qn(user._meta.db_table)} u "
        f"ON u.{qn(user._meta.pk.column)} = t.{qn('user_id')} WHERE t.{qn('key')} = %s"
    )
    return sql, user_fields


def token_user(key: str) -> tuple[AbstractBaseUser, Token, bool] | None:
    """The token's user, the token and whether the user is in the annotators group; None for
    an unknown key. One query, none for a key no token can have (a NUL byte would otherwise
    be PostgreSQL's DataError, a 100 kB header a 100 kB parameter)."""
    if len(key) > _KEY_MAX_LENGTH or "\x00" in key:
        return None
    sql, user_fields = _token_sql()
    with prepared_cursor() as cur:  # planned once per connection (see annotation.prepared)
        cur.execute(sql, [ANNOTATORS_GROUP, key])
        row = cur.fetchone()
    if row is None:
        return None
    n = len(user_fields)
    user = get_user_model().from_db(connection.alias, user_fields, row[:n])
    token = Token.from_db(connection.alias, ["key", "user_id", "created"], (key, user.pk, row[n]))
    token.user = user  # the cached relation, as select_related("user") would set it
    return user, token, bool(row[n + 1])


class AnnotatorTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; sets ``user.in_annotators_group`` from the same query."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        found = token_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user, token, in_group = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        user.in_annotators_group = in_group
        return user, token

"""Token auth that reads the annotator role in the same query as the token.

The permission check (``selectors.user_is_annotator``) would otherwise cost one more round
trip per API call on the two hot paths (next task, submit); reading it here, with the user,
keeps it exact (no cache to go stale when an admin removes someone from the group).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

ANNOTATORS_GROUP = "annotators"  # same name as selectors.ANNOTATORS_GROUP (no import cycle)


class AnnotatorTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; sets ``user.in_annotators_group`` from the same query."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        groups = get_user_model().groups.through.objects.filter(
            user_id=OuterRef("user_id"), group__name=ANNOTATORS_GROUP
        )
        token = (
            Token.objects.select_related("user")
            .annotate(in_annotators_group=Exists(groups))
            .filter(key=key)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.user.in_annotators_group = token.in_annotators_group
        return token.user, token

"""The roles an account holds on a game, from least to most trusted.

Each role includes what the roles below it may do: `viewer` reads metrics,
`analyst` also reads player profiles, `admin` also manages keys, tokens,
members and privacy requests, `owner` also grants and removes the owner role.
"""

from typing import Final, Literal, TypeGuard, get_args

Role = Literal["viewer", "analyst", "admin", "owner"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
"""Ascending: a role may do whatever the ones before it may."""


def is_role(text: object) -> TypeGuard[Role]:
    return isinstance(text, str) and text in ROLES


def at_least(held: Role, needed: Role) -> bool:
    return ROLES.index(held) >= ROLES.index(needed)


def reads_profiles(role: Role) -> bool:
    return at_least(role, "analyst")

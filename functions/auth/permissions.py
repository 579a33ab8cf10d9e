"""Permission levels and the mapping from Entra app roles to them (admin ⊃ operator ⊃ reader)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from functions.settings import AuthSettings

__all__ = ["Permission", "RoleMap"]


class Permission(IntEnum):
    """What an operation requires, ordered: a higher level includes every lower one.

    - ``READER``: read inventory, jobs and the caller's own identity.
    - ``OPERATOR``: create, change and delete VMs, power operations, cancel one's own jobs.
    - ``ADMIN``: everything, including cancelling other callers' jobs.
    """

    READER = 1
    OPERATOR = 2
    ADMIN = 3

    def allows(self, required: Permission) -> bool:
        """Whether holding this level satisfies ``required``."""
        return self >= required


@dataclass(frozen=True)
class RoleMap:
    """The app role value that grants each permission level (from settings; compared case-insensitively)."""

    reader: str = "Aether.Reader"
    operator: str = "Aether.Operator"
    admin: str = "Aether.Admin"

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> RoleMap:
        """The role names configured in ``AETHERV_ROLE_*``."""
        return cls(reader=settings.role_reader, operator=settings.role_operator, admin=settings.role_admin)

    def role_for(self, permission: Permission) -> str:
        """The role value that grants ``permission``."""
        return {Permission.READER: self.reader, Permission.OPERATOR: self.operator, Permission.ADMIN: self.admin}[
            permission
        ]

    def all_roles(self) -> tuple[str, ...]:
        """Every role value, lowest level first."""
        return (self.reader, self.operator, self.admin)

    def permission_for(self, roles: Iterable[str]) -> Permission | None:
        """The highest permission any of ``roles`` grants, or ``None`` when none of them is an app role of ours."""
        held = {role.casefold() for role in roles}
        for permission in sorted(Permission, reverse=True):
            if self.role_for(permission).casefold() in held:
                return permission
        return None

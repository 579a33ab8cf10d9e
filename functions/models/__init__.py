"""Request, response and domain models shared by the API, the workflows and the dashboard (pydantic v2)."""

from functions.models.problems import Problem, RequestValidationError
from functions.models.vm_request import (
    AnsibleAccess,
    DomainJoin,
    GuestConfig,
    Ipv4Config,
    OsFamily,
    VmCreateRequest,
    os_family_from_image,
    parse_vm_request,
)

__all__ = [
    "AnsibleAccess",
    "DomainJoin",
    "GuestConfig",
    "Ipv4Config",
    "OsFamily",
    "Problem",
    "RequestValidationError",
    "VmCreateRequest",
    "os_family_from_image",
    "parse_vm_request",
]

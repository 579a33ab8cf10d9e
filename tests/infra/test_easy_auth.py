"""With App Service Authentication on, every path the app serves anonymously stays reachable without a token: the
dashboard (which signs users in itself), its assets and sign-in files, the health routes and the API's docs. The
anonymous paths come from the app's own route declarations, so a new anonymous route fails here until the template
excludes it. The API routes (/api/v1/...) and the host's runtime paths stay behind the module.

Easy Auth's matching, as modelled here: an excluded path matches a request path exactly, and an entry ending in /*
matches every path below it (MicrosoftDocs/azure-docs#86514, answered by the App Service team).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from functions.app import create_app
from functions.dashboard import routes as dashboard_routes
from tests.infra.bicep import body, render

# Routes behind Entra ID: every /api/v1 route validates a bearer token in code (README, "Authentication").
TOKEN_PREFIX = "api/v1/"
# The catch-all under api/ that answers unknown API paths with a 404 problem: nothing to serve anonymously there.
API_FALLBACK = "api/{*rest}"
# Paths that must never be excluded: the Durable extension's webhooks carry the system key only as a query
# parameter, and App Service Authentication is the second lock on them (azure-functions-host#4674).
HOST_PATHS = ["/runtime/webhooks/durabletask/instances/abc", "/admin/host/status"]


def _http_routes() -> list[str]:
    routes: list[str] = []
    for function in create_app({}).get_functions():
        for binding in function.get_bindings():
            if binding.type == "httpTrigger":
                routes.append(binding.route)
    return routes


def _client_paths() -> Iterator[str]:
    """One sample path per client-side route the dashboard's page answers with 200."""
    pattern = dashboard_routes._CLIENT_ROUTES.pattern
    match = re.fullmatch(r"\^\((.*)\)\$", pattern)
    assert match, f"the dashboard's client routes are no longer a plain alternation: {pattern}"
    for alternative in match.group(1).split("|"):
        path = "/" + alternative.replace("[^/]+", "web01")
        assert not re.search(r"[\\^$()\[\]*+?{}]", path), f"cannot make a sample path from {alternative!r}"
        assert dashboard_routes._CLIENT_ROUTES.match(path[1:]), path
        yield path


def _sample_paths(route: str) -> list[str]:
    """Request paths that reach ``route``."""
    if route == dashboard_routes.PAGE_ROUTE:
        return list(_client_paths())
    path = "/" + re.sub(r"\{\*\w+\}", "assets/app.js", route)
    path = re.sub(r"\{\w+\}", "3f2a9c1d0b7e", path)
    assert "{" not in path, f"cannot make a sample path from route {route!r}"
    return [path]


def _covered(path: str, excluded: list[str]) -> bool:
    return any(entry == path or (entry.endswith("/*") and path.startswith(entry[:-1])) for entry in excluded)


@pytest.fixture(scope="module")
def routes() -> list[str]:
    found = _http_routes()
    assert dashboard_routes.PAGE_ROUTE in found and "api/healthz" in found, found
    return found


@pytest.fixture(scope="module")
def anonymous_paths(routes: list[str]) -> list[str]:
    anonymous = [route for route in routes if not route.startswith(TOKEN_PREFIX) and route != API_FALLBACK]
    return [path for route in anonymous for path in _sample_paths(route)]


@pytest.fixture(scope="module")
def token_paths(routes: list[str]) -> list[str]:
    return [path for route in routes if route.startswith(TOKEN_PREFIX) for path in _sample_paths(route)]


@pytest.fixture(scope="module")
def excluded(bicep: dict[str, Any]) -> list[str]:
    api = bicep["app/api.bicep"]
    auth = body(api["resources"]["authSettings"])["properties"]
    assert render(auth["globalValidation"]["excludedPaths"]) == "easyAuthExcludedPaths"
    paths: list[str] = api["variables"]["easyAuthExcludedPaths"]["value"]
    return paths


def test_the_dashboard_and_the_other_anonymous_paths_are_excluded(
    anonymous_paths: list[str], excluded: list[str]
) -> None:
    for path in ("/", "/vms", "/jobs", "/ui-config.json", "/auth/redirect", "/api/healthz", "/api/docs"):
        assert path in anonymous_paths, f"{path} is no longer served anonymously: update this test"
    missing = [path for path in anonymous_paths if not _covered(path, excluded)]
    assert not missing, f"anonymous paths App Service Authentication would refuse: {missing}"


def test_api_and_host_paths_stay_behind_the_module(token_paths: list[str], excluded: list[str]) -> None:
    assert token_paths, "no /api/v1 routes found"
    opened = [path for path in token_paths + HOST_PATHS if _covered(path, excluded)]
    assert not opened, f"excluded from App Service Authentication: {opened}"


def test_every_entry_is_needed_and_well_formed(anonymous_paths: list[str], excluded: list[str]) -> None:
    for entry in excluded:
        assert entry.startswith("/"), entry
        assert "*" not in entry.removesuffix("/*"), f"{entry}: only a trailing /* is a wildcard"
        assert any(_covered(path, [entry]) for path in anonymous_paths), f"{entry} matches no anonymous route"
    assert len(set(excluded)) == len(excluded)


def test_easy_auth_stays_optional_and_rejects_with_401(bicep: dict[str, Any]) -> None:
    api = bicep["app/api.bicep"]
    auth = body(api["resources"]["authSettings"])["properties"]
    assert auth["platform"]["enabled"] == "enableEasyAuth"
    assert api["parameters"]["enableEasyAuth"]["default"] is False
    assert auth["globalValidation"]["requireAuthentication"] is True
    assert auth["globalValidation"]["unauthenticatedClientAction"] == "Return401"

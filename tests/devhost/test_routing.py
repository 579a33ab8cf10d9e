"""Route template unit tests."""

import pytest

from tools.devhost.routing import RouteError, Router, compile_route


def test_parameters_and_constraints() -> None:
    assert compile_route("items/{id}").match("items/abc") == {"id": "abc"}
    assert compile_route("items/{n:int}").match("items/42") == {"n": "42"}
    assert compile_route("items/{n:int}").match("items/4x2") is None
    assert compile_route("items/{n:int}").match("items/99999999999") is None
    assert compile_route("g/{id:guid}").match("g/3f2504e0-4f89-11d3-9a0c-0305e82c3301") is not None
    assert compile_route("a/{x:alpha}").match("a/abc1") is None
    assert compile_route("r/{v:range(1,5)}").match("r/6") is None
    assert compile_route("r/{v:min(1):max(3)}").match("r/2") == {"v": "2"}


def test_optional_default_and_catch_all() -> None:
    assert compile_route("a/{b?}").match("a") == {}
    assert compile_route("a/{b?}").match("a/x") == {"b": "x"}
    assert compile_route("a/{b=zz}").match("a") == {"b": "zz"}
    assert compile_route("files/{*rest}").match("files/x/y/z.txt") == {"rest": "x/y/z.txt"}
    assert compile_route("files/{*rest}").match("files") == {}


def test_literals_are_case_insensitive_and_complex_segments() -> None:
    assert compile_route("api/Items").match("API/items") == {}
    assert compile_route("f/{name}.{ext}").match("f/report.pdf") == {"name": "report", "ext": "pdf"}


def test_precedence_and_methods() -> None:
    router: Router[str] = Router()
    router.add("items/{name}", None, "name")
    router.add("items/{n:int}", ["GET"], "int")
    router.add("items/new", None, "literal")
    router.add("{*all}", None, "catch-all")
    assert router.resolve("GET", "items/new") == ("literal", {})
    assert router.resolve("GET", "items/7") == ("int", {"n": "7"})
    assert router.resolve("POST", "items/7") == ("name", {"name": "7"})
    assert router.resolve("GET", "other/path") == ("catch-all", {"all": "other/path"})


def test_bad_templates() -> None:
    with pytest.raises(RouteError):
        compile_route("a/{x:nosuch}")
    with pytest.raises(RouteError):
        compile_route("a/{*rest}/b")

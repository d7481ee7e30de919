"""Opening a Neo4j store: credentials in the URI, secrets never printed, unreachable servers fail
fast with one line, NEO4J_URI as the CLI's store."""

from __future__ import annotations

import socket
from typing import Any

import neo4j
import pytest
from click.testing import CliRunner
from graphsona.cli import main
from graphsona.errors import StoreError
from graphsona.graph import _uri
from graphsona.graph._uri import redact, remember_secret, split_userinfo
from graphsona.graph.neo4j_store import connect_error_message, driver_from_env


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GRAPHSONA_STORE", "NEO4J_URI", "NEO4J_USERNAME", "NEO4J_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_uri, "_SECRETS", set())


@pytest.fixture
def closed_port() -> str:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


# ---------------------------------------------------------------- redact / split_userinfo
def test_redact_masks_uri_passwords() -> None:
    assert redact("at neo4j://alice:s3cret@db:7687 now") == "at neo4j://alice:***@db:7687 now"
    assert redact("'bolt+s://:pw@h:1'") == "'bolt+s://:***@h:1'"
    assert redact("bolt://u:p@ss@host:7687/x") == "bolt://u:***@host:7687/x"
    assert redact("bolt://alice@db:7687 and bolt://db:7687") == (
        "bolt://alice@db:7687 and bolt://db:7687"
    )


def test_redact_masks_known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", "envpw")
    remember_secret("p@ss word")
    text = redact("got envpw, p@ss word and p%40ss%20word", secrets=("extra",)) + redact("extra")
    assert text == "got ***, *** and ***extra"
    assert redact("extra", secrets=("extra",)) == "***"


def test_split_userinfo() -> None:
    assert split_userinfo("bolt://alice:p%40ss@db:7687/x?y#z") == (
        "bolt://db:7687/x?y#z",
        "alice",
        "p@ss",
    )
    assert split_userinfo("neo4j://alice@db") == ("neo4j://db", "alice", None)
    assert split_userinfo("neo4j://db:7687") == ("neo4j://db:7687", None, None)
    assert split_userinfo("graph.lbdb") == ("graph.lbdb", None, None)


# ---------------------------------------------------------------- messages
def test_unreachable_message_names_the_reason() -> None:
    e = neo4j.exceptions.ServiceUnavailable("Couldn't connect: [Errno 111] Connection refused")
    msg = connect_error_message("bolt://u:secret@localhost:7999", e)
    assert msg == (
        "cannot reach Neo4j at bolt://localhost:7999 (connection refused); "
        "is the server running? (set --store or NEO4J_URI)"
    )


def test_neo4j_scheme_routing_failure_hints_at_bolt() -> None:
    e = neo4j.exceptions.ServiceUnavailable("Unable to retrieve routing information")
    msg = connect_error_message("neo4j://db:7687", e)
    assert "(Unable to retrieve routing information)" in msg
    assert msg.endswith("for a single server use bolt://db:7687")
    # a refused port is not a routing problem: no bolt:// hint
    refused = neo4j.exceptions.ServiceUnavailable("Unable to retrieve routing information")
    refused.__cause__ = ExceptionGroup("all failed", [ConnectionRefusedError("Connection refused")])
    assert "bolt://" not in connect_error_message("neo4j://db:7687", refused)


def test_refused_credentials_say_where_they_came_from() -> None:
    class AuthError(Exception):  # the driver's class is matched by name, as are subclasses
        pass

    class TokenExpired(AuthError):
        pass

    e = AuthError("The client is unauthorized due to authentication failure.")
    assert connect_error_message("bolt://db:7687", e) == (
        "Neo4j at bolt://db:7687 refused the credentials (NEO4J_USERNAME/NEO4J_PASSWORD)"
    )
    assert connect_error_message("bolt://u:pw@db:7687", TokenExpired(), from_uri=True) == (
        "Neo4j at bolt://db:7687 refused the credentials (user:password in the URI)"
    )


# ---------------------------------------------------------------- driver settings
class _FakeDriver:
    def __init__(self, error: Exception | None) -> None:
        self.error, self.closed = error, False

    def verify_connectivity(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


def test_uri_credentials_become_auth_with_short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_driver(uri: str, **kwargs: Any) -> _FakeDriver:
        seen.update(kwargs, uri=uri)
        return _FakeDriver(None)

    monkeypatch.setattr(neo4j.GraphDatabase, "driver", fake_driver)
    monkeypatch.setenv("NEO4J_USERNAME", "envuser")
    monkeypatch.setenv("NEO4J_PASSWORD", "envpw")
    driver_from_env("neo4j://alice:s%3Acret@db:7687")
    assert seen["uri"] == "neo4j://db:7687"
    assert seen["auth"] == ("alice", "s:cret")
    assert seen["connection_timeout"] <= 5
    assert seen["connection_acquisition_timeout"] <= 8
    assert seen["max_transaction_retry_time"] <= 15
    driver_from_env("bolt://db:7687")
    assert seen["auth"] == ("envuser", "envpw")


def test_failed_check_closes_the_driver_and_raises_store_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeDriver(neo4j.exceptions.ServiceUnavailable("Connection refused"))
    monkeypatch.setattr(neo4j.GraphDatabase, "driver", lambda uri, **kw: fake)
    with pytest.raises(
        StoreError, match=r"cannot reach Neo4j at bolt://db:1 \(connection refused\)"
    ):
        driver_from_env("bolt://u:secret@db:1")
    assert fake.closed
    assert driver_from_env("bolt://db:1", verify=False) is fake


# ---------------------------------------------------------------- the CLI, no server
def test_uri_credentials_and_unreachable_port_one_line_no_secret(closed_port: str) -> None:
    for scheme in ("bolt", "neo4j"):
        code, out = cli("stats", "--store", f"{scheme}://user:secret@127.0.0.1:{closed_port}")
        assert code == 1
        assert "secret" not in out and "Traceback" not in out and "routing" not in out, out
        assert error_lines(out) == [
            f"error: cannot reach Neo4j at {scheme}://127.0.0.1:{closed_port} (connection "
            "refused); is the server running? (set --store or NEO4J_URI)"
        ]


def test_env_password_never_printed(closed_port: str) -> None:
    env = {"NEO4J_PASSWORD": "secret", "NEO4J_URI": f"neo4j://127.0.0.1:{closed_port}"}
    code, out = cli("stats", env=env)
    assert code == 1 and "secret" not in out and len(error_lines(out)) == 1, out
    code, out = cli("stats", "--store", "nope://u:secret@h", env=env)
    assert code == 1 and "secret" not in out and "nope://u:***@h" in out, out


def test_unexpected_errors_are_one_redacted_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug near bolt://u:secret@h:1\nsecond line")

    monkeypatch.setattr("graphsona.graph.registry.driver_from_env", boom)
    code, out = cli("stats", "--store", "bolt://h:1")
    assert code == 1 and "Traceback" not in out
    assert error_lines(out) == [
        "error: RuntimeError: bug near bolt://u:***@h:1 (run with --debug for the traceback)"
    ]
    result = CliRunner().invoke(main, ["--debug", "stats", "--store", "bolt://h:1"])
    assert isinstance(result.exception, RuntimeError)


# ---------------------------------------------------------------- the CLI on the test server
def _host_port(uri: str) -> str:
    return uri.split("://", 1)[1]


@pytest.mark.neo4j
def test_uri_credentials_connect_to_the_server(neo4j_server: Any) -> None:
    # auth is disabled on the test server: any credentials are accepted
    code, out = cli("stats", "--json", "--store", f"bolt://u:pw@{_host_port(neo4j_server.uri)}")
    assert code == 0, out
    assert '"users"' in out


@pytest.mark.neo4j
def test_neo4j_uri_is_the_default_store(neo4j_server: Any, tmp_path: Any) -> None:
    code, out = cli("stats", "--json", env={"NEO4J_URI": neo4j_server.uri})
    assert code == 0, out
    # GRAPHSONA_STORE comes first
    env = {"NEO4J_URI": neo4j_server.uri, "GRAPHSONA_STORE": "bolt://127.0.0.1:1"}
    code, out = cli("stats", env=env)
    assert code == 1 and "bolt://127.0.0.1:1" in out, out


@pytest.mark.neo4j
def test_neo4j_scheme_works_on_the_single_test_server(neo4j_server: Any) -> None:
    """Neo4j 5 routes on a single instance; the routing hint is tested on the message above."""
    code, out = cli("stats", "--json", "--store", f"neo4j://{_host_port(neo4j_server.uri)}")
    assert code == 0, out

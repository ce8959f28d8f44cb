"""The tests' private Redis: a Unix socket only, nothing written to disk, gone afterwards."""

from __future__ import annotations

from tests.servers.redis import running_redis


def test_private_server_has_no_tcp_no_persistence_and_stops_at_the_end() -> None:
    with running_redis() as server:
        client = server.client()
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        client.set("key", "value")
        assert client.get("key") == b"value"
        folder = server.socket.parent
    assert server.process.poll() is not None
    assert not folder.exists()


def test_redis_url_fixture_starts_empty(redis_server, redis_url) -> None:
    assert redis_url == f"unix://{redis_server.socket}?db=0"
    assert redis_server.client().dbsize() == 0

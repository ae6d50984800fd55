"""The Synapse test server: it answers, registers users, logs them in and survives restarts."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests import synapse_server
from tests.synapse_server import Synapse, SynapseError

synapse = synapse_server.synapse


def test_answers_client_versions(synapse: Synapse) -> None:
    with urllib.request.urlopen(f"{synapse.url}/_matrix/client/versions", timeout=5) as response:
        answer = json.loads(response.read())
    assert response.status == 200
    assert "v1.1" in answer["versions"]


def test_registered_user_logs_in_and_whoami_knows_them(synapse: Synapse) -> None:
    alice = synapse.register("fixture_alice", "alice-password")
    bob = synapse.register("fixture_bob", "bob-password", admin=True)
    assert (alice, bob) == ("@fixture_alice:localhost", "@fixture_bob:localhost")

    token, device_id = synapse.login("fixture_alice", "alice-password")
    assert token and device_id
    whoami = synapse.request("GET", "/_matrix/client/v3/account/whoami", token=token)
    assert whoami["user_id"] == alice
    assert whoami["device_id"] == device_id


def test_wrong_password_is_refused(synapse: Synapse) -> None:
    synapse.register("fixture_carol", "carol-password")
    with pytest.raises(SynapseError) as refused:
        synapse.login("fixture_carol", "not-her-password")
    assert refused.value.status == 403
    assert refused.value.body["errcode"] == "M_FORBIDDEN"


def test_restart_keeps_users_port_and_tokens(synapse: Synapse) -> None:
    user_id = synapse.register("fixture_dave", "dave-password")
    token, _ = synapse.login("fixture_dave", "dave-password")
    url = synapse.url

    synapse.stop()
    assert not synapse.running
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/health", timeout=2)
    synapse.start()

    assert synapse.url == url
    assert synapse.request("GET", "/_matrix/client/v3/account/whoami", token=token)["user_id"] == (
        user_id
    )
    new_token, _ = synapse.login("fixture_dave", "dave-password")
    assert new_token != token

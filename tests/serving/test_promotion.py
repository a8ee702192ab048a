"""A promotion while serving: the new champion is picked up without a restart, atomically."""

from __future__ import annotations

import time

from .conftest import Tokens, running, service_settings
from .county import RECOMMENDER, fit_signposter, register_signposter, tracking


def test_promotion_is_served_without_restart(world, tmp_path):
    folder = tmp_path / "registry"
    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    first = register_signposter(uri, folder, fit_signposter(world.county.processed, l2=50.0))
    settings = service_settings(world, f"sqlite:///{tmp_path / 'service.db'}", tmp_path,
                                mlflow_tracking_uri=uri, registry_poll_seconds=0.2)
    me = Tokens(settings)("citizen", world.people.citizen)
    path = f"/v1/citizens/{world.people.citizen}/recommendations"
    with running(settings) as client:
        body = client.get(path, headers=me).json()
        assert (body["model_version"], body["model"]) == (first, "ease-l2-50")

        second = register_signposter(uri, folder, fit_signposter(world.county.processed, l2=5.0), champion=False)
        assert client.get(path, headers=me).json()["model_version"] == first  # registered, not promoted
        with tracking(uri) as registry:
            registry.set_registered_model_alias(RECOMMENDER, "champion", second)

        seen, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            response = client.get(path, headers=me)
            assert response.status_code == 200, response.text  # no failed request during the swap
            body = response.json()
            seen.append((body["model_version"], body["model"]))
            if body["model_version"] == second:
                break
            time.sleep(0.05)
        assert seen[-1] == (second, "ease-l2-5"), seen[-5:]
        # each answer came wholly from one version: version and model kind always agree
        assert set(seen) <= {(first, "ease-l2-50"), (second, "ease-l2-5")}
        assert client.get("/v1/models", headers=me).json()["recommender"]["version"] == second
        assert client.get("/readyz").json()["recommender"]["version"] == second


def test_champion_removed_falls_back_to_popularity(world, tmp_path):
    folder = tmp_path / "registry"
    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    register_signposter(uri, folder, fit_signposter(world.county.processed))
    settings = service_settings(world, f"sqlite:///{tmp_path / 'service.db'}", tmp_path,
                                mlflow_tracking_uri=uri, registry_poll_seconds=0.2)
    me = Tokens(settings)("citizen", world.people.citizen)
    with running(settings) as client:
        assert client.get("/readyz").json()["degraded"] is False
        with tracking(uri) as registry:
            registry.delete_registered_model_alias(RECOMMENDER, "champion")
        deadline = time.monotonic() + 30
        while client.get("/readyz").json()["degraded"] is False and time.monotonic() < deadline:
            time.sleep(0.1)
        ready = client.get("/readyz").json()
        assert ready["degraded"] is True and any("no champion" in r for r in ready["reasons"])
        body = client.get(f"/v1/citizens/{world.people.citizen}/recommendations", headers=me).json()
        assert body["degraded"] is True and body["personalised"] is False

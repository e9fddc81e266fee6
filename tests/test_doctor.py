"""`invoice-true doctor` against the fixture server on loopback: exact counts, refusals, secrets."""

from __future__ import annotations

import socket

import pytest

from fixtures.rows import Fleet
from fixtures.server import FixtureServer
from pipelines.cli import main
from pipelines.config import read_config
from pipelines.doctor import scrub, secret_values

TOKEN = "tok-doctor-7f3a9c1e"  # distinctive: it must appear nowhere in what doctor prints
AT = ["--at", "2026-10-10T12:00:00Z"]  # the hour probed is [11:00, 12:00)
R = "gpu-a"


def request(request_id: str, finished_at: str) -> dict:
    return {
        "request_id": request_id, "received_at": "2026-10-10T10:00:00Z", "first_token_at": None,
        "finished_at": finished_at, "model": "m1", "tier": "h100-class", "resource_id": R, "status": 200,
        "error": None, "prompt_tokens": 1, "completion_tokens": 2, "cached_tokens": 0, "api_key_id": None,
    }


def snapshot(sampled_at: str, resource_id: str) -> dict:
    return {
        "sampled_at": sampled_at, "resource_id": resource_id, "tier": "h100-class", "gpu_type": "H100-SXM-80GB",
        "gpu_count": 2, "price_model": "spot", "state": "running", "rate_per_hour": "4.00",
        "cumulative_cost": "1.00", "billing_period_start": "2026-10-01T00:00:00Z", "currency": "USD",
    }


@pytest.fixture
def server():
    requests = [
        request("before", "2026-10-10T10:59:59Z"),
        request("first", "2026-10-10T11:00:00Z"),  # the hour's start is inside
        request("middle", "2026-10-10T11:30:00.000000Z"),
        request("last", "2026-10-10T11:59:59.250000+00:00"),
        request("after", "2026-10-10T12:00:00Z"),  # the hour's end is not
    ]
    snapshots = [snapshot(f"2026-10-10T11:{m:02d}:00Z", r) for m in range(60) for r in ("gpu-a", "gpu-b")]
    snapshots.append(snapshot("2026-10-10T12:00:00Z", "gpu-a"))
    events = [
        {"at": "2026-10-10T11:15:00Z", "resource_id": R, "tier": "h100-class", "event": "wake_requested"},
        {"at": "2026-10-10T09:15:00Z", "resource_id": R, "tier": "h100-class", "event": "launched"},
    ]
    with FixtureServer(Fleet.from_rows(snapshots, requests, events), token=TOKEN) as running:
        yield running


@pytest.fixture
def environment(monkeypatch, server):
    """The contract APIs from the environment, as without a file, paged two rows at a time."""
    for name in ("BILLING_API_URL", "GATEWAY_API_URL"):
        monkeypatch.setenv(name, server.url)
    for name in ("BILLING_API_TOKEN", "GATEWAY_API_TOKEN"):
        monkeypatch.setenv(name, TOKEN)
    monkeypatch.setenv("INVOICE_TRUE_PAGE_LIMIT", "2")  # the probe follows the cursors
    return server.url.removeprefix("http://")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_each_source_is_probed_over_the_last_hour_with_exact_counts(environment, capsys):
    assert main(["doctor", *AT]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "config      environment  requests=gateway_api billing=snapshots_api events=gateway_api  "
        "0 resource map entries, 0 models",
        f"requests    gateway_api       {environment}/v1/usage/requests  OK  "
        "3 rows in the last hour, newest 2026-10-10T11:59:59.250000Z",
        f"billing     snapshots_api     {environment}/v1/billing/snapshots  OK  "
        "120 rows in the last hour, newest 2026-10-10T11:59:00Z",
        f"events      gateway_api       {environment}/v1/fleet/events  OK  1 row in the last hour, newest 2026-10-10T11:15:00Z",
    ]
    assert TOKEN not in out + err


def test_a_file_names_the_variables_and_a_section_set_to_none_is_not_probed(environment, tmp_path, monkeypatch,
                                                                            capsys):
    monkeypatch.setenv("FLEET_GATEWAY_URL", "http://" + environment)
    monkeypatch.setenv("FLEET_GATEWAY_KEY", TOKEN)
    config = tmp_path / "fleet.toml"
    config.write_text('[requests]\nadapter = "gateway_api"\nurl_env = "FLEET_GATEWAY_URL"\n'
                      'token_env = "FLEET_GATEWAY_KEY"\n[events]\nadapter = "none"\n[models]\n"m1" = "h100-class"\n')
    monkeypatch.setenv("INVOICE_TRUE_CONFIG", str(config))
    monkeypatch.setenv("GATEWAY_API_TOKEN", "not-this-one")  # the file's variable is the one used
    assert main(["doctor", *AT]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"config      {config}  requests=gateway_api billing=snapshots_api events=none  0 resource map entries, 1 model",
        f"requests    gateway_api       {environment}/v1/usage/requests  OK  "
        "3 rows in the last hour, newest 2026-10-10T11:59:59.250000Z",
        f"billing     snapshots_api     {environment}/v1/billing/snapshots  OK  "
        "120 rows in the last hour, newest 2026-10-10T11:59:00Z",
        "events      none              no source  OK  no fleet events configured: nothing is counted as waking",
    ]


def test_a_refused_token_fails_its_source_in_one_line_without_showing_it(environment, monkeypatch, capsys):
    wrong = "sk-wrong-SECRET-4d2b8e"
    monkeypatch.setenv("GATEWAY_API_TOKEN", wrong)
    assert main(["doctor", *AT]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[1] == (
        f"requests    gateway_api       {environment}/v1/usage/requests  FAILED  gateway API refused the token (401) "
        "for /v1/usage/requests (window [2026-10-10T11:00:00Z, 2026-10-10T12:00:00Z)) — check GATEWAY_API_TOKEN"
    )
    assert lines[2].startswith("billing     snapshots_api") and "  OK  120 rows" in lines[2]
    assert wrong not in out + err and TOKEN not in out + err


def test_an_unreachable_source_fails_and_the_others_are_still_probed(environment, monkeypatch, capsys):
    port = closed_port()
    monkeypatch.setenv("BILLING_API_URL", f"http://doctor:url-SECRET-55@127.0.0.1:{port}")
    assert main(["doctor", *AT]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[2] == (
        f"billing     snapshots_api     127.0.0.1:{port}/v1/billing/snapshots  FAILED  billing API failed with "
        "ConnectError (gave up after 2 attempts) for /v1/billing/snapshots "
        "(window [2026-10-10T11:00:00Z, 2026-10-10T12:00:00Z))"
    )
    assert "  OK  3 rows" in lines[1] and "  OK  1 row" in lines[3]
    assert "url-SECRET-55" not in out + err and TOKEN not in out + err


def test_a_wrong_dsn_never_shows_its_password(tmp_path, monkeypatch, capsys):
    dsn = f"postgresql://invoice:dsn-SECRET-91c@127.0.0.1:{closed_port()}/litellm"
    monkeypatch.setenv("LITELLM_DATABASE_URL", dsn)
    monkeypatch.setenv("BILLING_API_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("BILLING_API_TOKEN", TOKEN)
    (tmp_path / "invoice-true.toml").write_text(
        '[requests]\nadapter = "litellm_postgres"\ndsn_env = "LITELLM_DATABASE_URL"\n[events]\nadapter = "none"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["doctor", *AT]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[1].startswith("requests    litellm_postgres  ")
    assert "  FAILED  " in out.splitlines()[1]
    assert "dsn-SECRET-91c" not in out + err and TOKEN not in out + err


def test_what_a_driver_echoes_is_scrubbed_dsn_password_and_token(tmp_path, monkeypatch):
    monkeypatch.setenv("LITELLM_DATABASE_URL", "postgresql://invoice:pa%40ss-SECRET@db.example:5432/litellm")
    monkeypatch.setenv("PROM_TOKEN", "prom-SECRET-token")
    monkeypatch.setenv("BILLING_API_URL", "https://billing.example")
    monkeypatch.setenv("BILLING_API_TOKEN", TOKEN)
    path = tmp_path / "invoice-true.toml"
    path.write_text('[requests]\nadapter = "litellm_postgres"\ndsn_env = "LITELLM_DATABASE_URL"\n'
                    '[events]\nadapter = "none"\n'
                    '[crosscheck]\nadapter = "prometheus"\nurl = "http://prom:9090"\ntoken_env = "PROM_TOKEN"\n')
    secrets = secret_values(read_config(path))
    line = ('connection to "postgresql://invoice:pa%40ss-SECRET@db.example:5432/litellm" failed; user invoice, '
            f"password pa@ss-SECRET; auth pa%40ss-SECRET; bearer prom-SECRET-token {TOKEN}; https://billing.example")
    assert scrub(line, secrets) == (
        'connection to "***" failed; user invoice, password ***; auth ***; bearer *** ***; https://billing.example'
    )


def test_a_configuration_error_is_one_line_and_exit_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "invoice-true.toml").write_text('[requests]\nadapter = "litelm_postgres"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["doctor"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        'invoice-true.toml: [requests] adapter "litelm_postgres" is not one of '
        "gateway_api, litellm_postgres, litellm_api, otlp_files\n"
    )


def test_without_urls_the_demo_fleet_is_named_and_not_probed(monkeypatch, tmp_path, capsys):
    for name in ("BILLING_API_URL", "GATEWAY_API_URL", "BILLING_API_TOKEN", "GATEWAY_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "requests    gateway_api       bundled demo fleet  OK  "
        "GATEWAY_API_URL is not set: runs read the bundled demo fleet (not probed)",
        "billing     snapshots_api     bundled demo fleet  OK  "
        "BILLING_API_URL is not set: runs read the bundled demo fleet (not probed)",
        "events      gateway_api       bundled demo fleet  OK  "
        "GATEWAY_API_URL is not set: runs read the bundled demo fleet (not probed)",
    ]

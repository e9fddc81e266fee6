"""The configuration file (DESIGN.md "Configuration file"): where it is found, every error in one
line naming the file and the key, [accounting] and [checks] from the file, secrets from the environment."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.adapters import REGISTRY
from pipelines.adapters.configs import GatewayApiConfig, LiteLLMPostgresConfig, SnapshotsApiConfig
from pipelines.config import ConfigError, load_config, read_config
from pipelines.contracts.settings import CheckSettings
from pipelines.settings import AccountingSettings

EXAMPLE = Path(__file__).parent.parent / "deploy" / "invoice-true.example.toml"
CONTRACT_VARIABLES = ("BILLING_API_URL", "BILLING_API_TOKEN", "GATEWAY_API_URL", "GATEWAY_API_TOKEN")
LITELLM = '[requests]\nadapter = "litellm_postgres"\ndsn_env = "LITELLM_DATABASE_URL"\n'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """A folder without a file, and none of the variables a configuration may name."""
    monkeypatch.chdir(tmp_path)
    for name in [*CONTRACT_VARIABLES, "LITELLM_DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("INVOICE_TRUE_") and name.removeprefix("INVOICE_TRUE_").lower() in CheckSettings.model_fields:
            monkeypatch.delenv(name)


@pytest.fixture
def contract_apis(monkeypatch):
    for name in CONTRACT_VARIABLES:
        monkeypatch.setenv(name, f"value-of-{name}")


def error_of(text: str, name: str = "invoice-true.toml") -> str:
    Path(name).write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_config(Path(name))
    return str(raised.value)


# Where the configuration comes from ---------------------------------------------------------

def test_without_a_file_the_environment_chooses_the_contract_apis_and_no_variable_is_required():
    config = load_config()
    assert config.origin == "environment" and not config.from_file
    assert config.requests == GatewayApiConfig() and config.events == GatewayApiConfig()
    assert config.billing == SnapshotsApiConfig() and config.crosscheck is None
    assert config.requests.env_value("url_env") is None  # unset: runs read the bundled demo fleet
    assert config.resource_map == [] and config.models == {}


def test_the_file_in_the_working_folder_is_read_when_no_variable_names_one(contract_apis, monkeypatch):
    monkeypatch.setenv("LITELLM_DATABASE_URL", "postgresql://u:p@db/litellm")
    Path("invoice-true.toml").write_text(LITELLM)
    config = load_config()
    assert config.origin == "invoice-true.toml"
    assert config.requests == LiteLLMPostgresConfig(dsn_env="LITELLM_DATABASE_URL")


def test_the_file_invoice_true_config_names_wins_over_the_working_folder(contract_apis, monkeypatch, tmp_path):
    Path("invoice-true.toml").write_text(LITELLM)  # would fail: LITELLM_DATABASE_URL is not set
    named = tmp_path / "elsewhere" / "fleet.toml"
    named.parent.mkdir()
    named.write_text('[events]\nadapter = "none"\n')
    monkeypatch.setenv("INVOICE_TRUE_CONFIG", str(named))
    config = load_config()
    assert config.origin == str(named)
    assert config.events.adapter == "none" and config.requests == GatewayApiConfig()


def test_a_named_file_that_does_not_exist_is_an_error(monkeypatch):
    monkeypatch.setenv("INVOICE_TRUE_CONFIG", "/nowhere/fleet.toml")
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert str(raised.value) == "INVOICE_TRUE_CONFIG names /nowhere/fleet.toml, which is not a file"


def test_the_configuration_is_read_once_per_process_until_the_cache_is_cleared(contract_apis):
    Path("invoice-true.toml").write_text('[events]\nadapter = "none"\n')
    first = load_config()
    Path("invoice-true.toml").write_text('[events]\nadapter = "gateway_api"\n')
    assert load_config() is first
    load_config.cache_clear()
    assert load_config().events.adapter == "gateway_api"


# Every error in one line naming the file and the key ----------------------------------------

def test_an_unknown_adapter_names_the_section_and_the_choices():
    assert error_of('[requests]\nadapter = "litelm_postgres"\n') == (
        'invoice-true.toml: [requests] adapter "litelm_postgres" is not one of '
        "gateway_api, litellm_postgres, litellm_api, otlp_files"
    )
    assert error_of('[crosscheck]\nadapter = "prom"\n') == (
        'invoice-true.toml: [crosscheck] adapter "prom" is not one of prometheus'
    )
    assert error_of('[billing]\npath = "x.csv"\n') == (
        "invoice-true.toml: [billing] adapter is missing (one of snapshots_api, focus_cost_rows)"
    )


def test_a_variable_that_is_not_set_stops_the_run_naming_the_key(contract_apis, monkeypatch):
    assert error_of(LITELLM) == (
        "invoice-true.toml: [requests] dsn_env names LITELLM_DATABASE_URL, which is not set"
    )
    monkeypatch.setenv("LITELLM_DATABASE_URL", "")
    assert error_of(LITELLM) == "invoice-true.toml: [requests] dsn_env names LITELLM_DATABASE_URL, which is empty"


def test_a_default_section_needs_its_variables_too_and_says_it_is_a_default(monkeypatch):
    monkeypatch.setenv("LITELLM_DATABASE_URL", "postgresql://u:p@db/litellm")
    assert error_of(LITELLM + '[events]\nadapter = "none"\n') == (
        "invoice-true.toml: [billing] url_env names BILLING_API_URL, which is not set "
        "([billing] is not in the file, so it is snapshots_api)"
    )


def test_missing_and_unknown_keys_are_named_with_their_adapter():
    otlp = '[requests]\nadapter = "otlp_files"\npath = "/var/otel/*.jsonl"\nresource_attribute = "service.instance.id"\n'
    assert error_of(otlp) == "invoice-true.toml: [requests] model_attribute is missing (adapter otlp_files)"
    assert error_of(LITELLM + 'dsn = "postgresql://u:p@db/litellm"\n') == (
        "invoice-true.toml: [requests] unknown key dsn (adapter litellm_postgres)"
    )
    assert error_of('[reqests]\nadapter = "gateway_api"\n') == "invoice-true.toml: unknown section [reqests]"
    assert error_of("[accounting]\nband_low = 0.3\n") == "invoice-true.toml: [accounting] unknown key band_low"


def test_values_out_of_range_and_credentials_in_a_url_are_refused():
    api = '[requests]\nadapter = "litellm_api"\ntoken_env = "LITELLM_MASTER_KEY"\n'
    assert error_of(api + 'url = "http://litellm:4000"\npage_size = 5000\n') == (
        "invoice-true.toml: [requests] page_size: input should be less than or equal to 1000 (got 5000)"
    )
    error = error_of(api + 'url = "http://admin:hunter2@litellm:4000"\n')
    assert error == (
        "invoice-true.toml: [requests] url holds credentials (user:pass@); "
        "put the secret in the variable a *_env key names"
    )
    assert error_of('[requests]\nadapter = "litellm_postgres"\ndsn_env = "X"\nmodel_field = "name"\n') == (
        "invoice-true.toml: [requests] model_field: input should be 'model_group' or 'model'"
    )


def test_resource_map_entries_are_named_by_number_and_id():
    entries = "".join(
        f'[[resource_map]]\nsource = "litellm"\nsource_id = "http://10.0.4.{n}:8000/v1"\nresource_id = "gpu-{n}"\n'
        for n in (15, 16)
    )
    bad = ('[[resource_map]]\nsource = "litellm"\nsource_id = "http://10.0.4.17:8000/v1"\nresource_id = "gpu-a"\n'
           'valid_from = "2026-11-01T00:00:00Z"\nvalid_to = "2026-10-01T00:00:00Z"\n')
    assert error_of(entries + bad) == (
        "invoice-true.toml: [[resource_map]] entry 3 (litellm http://10.0.4.17:8000/v1): valid_from is after valid_to"
    )
    focus = '[[resource_map]]\nsource = "focus"\nsource_id = "i-0abc"\nresource_id = "gpu-a"\n'
    assert error_of(focus) == (
        "invoice-true.toml: [[resource_map]] entry 1 (focus i-0abc): a focus entry needs tier (FOCUS cost rows carry none)"
    )
    naive = bad.replace('"2026-11-01T00:00:00Z"', '"2026-09-01T00:00:00"')
    assert error_of(naive) == (
        "invoice-true.toml: [[resource_map]] entry 1 (litellm http://10.0.4.17:8000/v1) valid_from: "
        "input should have timezone info"
    )
    assert error_of('[[resource_map]]\nsource = "litellm"\nsource_id = " "\nresource_id = "gpu-a"\n') == (
        "invoice-true.toml: [[resource_map]] entry 1 (litellm) source_id is blank"
    )
    assert error_of('[resource_map]\nsource = "litellm"\n') == (
        "invoice-true.toml: resource_map must be written as [[resource_map]] tables"
    )


def test_a_file_that_is_not_toml_names_the_line(tmp_path):
    assert error_of('[requests]\nadapter = litellm_postgres\n', name="fleet.toml") == (
        "fleet.toml: not valid TOML: Invalid value (at line 2, column 11)"
    )


def test_a_bad_check_override_names_its_variable(monkeypatch):
    monkeypatch.setenv("INVOICE_TRUE_MAX_DARK_GAP_S", "fifteen minutes")
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert str(raised.value) == (
        "environment: INVOICE_TRUE_MAX_DARK_GAP_S: input should be a valid integer, unable to parse string as an integer"
    )


def test_a_bad_configuration_stops_a_run_before_any_fetch(capsys):
    from pipelines.cli import main

    Path("invoice-true.toml").write_text('[requests]\nadapter = "litelm_postgres"\n')
    assert main(["run", "--start", "2026-10-10", "--end", "2026-10-11"]) == 1
    assert capsys.readouterr().err == (
        'nothing published: invoice-true.toml: [requests] adapter "litelm_postgres" is not one of '
        "gateway_api, litellm_postgres, litellm_api, otlp_files\n"
    )


# Accounting and check settings from the file ------------------------------------------------

def test_accounting_and_check_settings_are_set_from_the_file_exactly(contract_apis):
    Path("invoice-true.toml").write_text(
        "[accounting]\nband_low_usd_per_mtok = 0.25\nband_tiers = [\"h100-class\", \"h200-class\"]\n"
        'currency = "EUR"\nday_edge_margin_s = 600\n'
        '[accounting.gateway_usd_per_mtok]\n"h100-class" = 0.85\n'
        "[checks]\nmax_dark_gap_s = 1200\nmax_quarantine_share = 0.005\n"
    )
    config = load_config()
    assert config.accounting.band_low_usd_per_mtok == Decimal("0.25")
    assert str(config.accounting.band_low_usd_per_mtok) == "0.25"  # never through a float
    assert config.accounting.band_tiers == ["h100-class", "h200-class"]
    assert config.accounting.gateway_usd_per_mtok == {"h100-class": Decimal("0.85")}
    assert config.accounting.band_high_usd_per_mtok == Decimal("0.70")  # the default stays
    assert config.checks.max_dark_gap_s == 1200 and str(config.checks.max_quarantine_share) == "0.005"
    # [checks] follows [accounting] for what they share, unless set apart
    assert (config.checks.currency, config.checks.day_edge_margin_s) == ("EUR", 600)
    assert config.accounting.sql_params()["band_low_usd_per_mtok"] == Decimal("0.25")


def test_invoice_true_field_variables_still_override_checks_and_win_over_the_file(contract_apis, monkeypatch):
    Path("invoice-true.toml").write_text("[checks]\nmax_dark_gap_s = 1200\nexamples = 3\n")
    monkeypatch.setenv("INVOICE_TRUE_MAX_DARK_GAP_S", "1800")
    monkeypatch.setenv("INVOICE_TRUE_CURRENCY", "")  # empty: any single currency
    config = load_config()
    assert (config.checks.max_dark_gap_s, config.checks.examples, config.checks.currency) == (1800, 3, None)


def test_without_a_file_the_defaults_are_designs():
    config = load_config()
    assert config.accounting == AccountingSettings() and config.checks == CheckSettings()
    assert config.accounting.band_low_usd_per_mtok == Decimal("0.30") and config.checks.max_dark_gap_s == 900


# Secrets --------------------------------------------------------------------------------------

def test_the_file_holds_the_names_of_secrets_and_the_values_come_from_the_environment(contract_apis, monkeypatch):
    dsn = "postgresql://invoice:s3cret-from-env@db:5432/litellm"
    monkeypatch.setenv("LITELLM_DATABASE_URL", dsn)
    Path("invoice-true.toml").write_text(LITELLM)
    config = load_config()
    assert config.requests.dsn_env == "LITELLM_DATABASE_URL"
    assert config.requests.env_value("dsn_env") == dsn
    assert config.billing.env_value("token_env") == "value-of-BILLING_API_TOKEN"
    assert "s3cret-from-env" not in repr(config) + str(config.model_dump())


def test_the_contract_api_resources_read_the_variables_the_file_names(monkeypatch):
    from pipelines.defs.resources import resources_from_env

    monkeypatch.setenv("FLEET_GATEWAY_URL", "https://gateway.example")
    monkeypatch.setenv("FLEET_GATEWAY_KEY", "gateway-secret-5e1d")
    monkeypatch.setenv("BILLING_API_URL", "https://billing.example")
    monkeypatch.setenv("BILLING_API_TOKEN", "t")
    Path("invoice-true.toml").write_text(
        '[requests]\nadapter = "gateway_api"\nurl_env = "FLEET_GATEWAY_URL"\ntoken_env = "FLEET_GATEWAY_KEY"\n'
        '[events]\nadapter = "none"\n'
    )
    resources = resources_from_env()
    assert resources["sources"].config_file == str(Path("invoice-true.toml").resolve())
    shown = repr(resources["sources"])  # what the UI shows: the variables' names, never their values
    assert "gateway-secret-5e1d" not in shown and "token=$FLEET_GATEWAY_KEY" in shown
    assert "url=https://gateway.example" in shown
    requests = resources["sources"].adapter("requests")
    assert requests.url == "https://gateway.example" and requests.describe() == "gateway.example/v1/usage/requests"
    assert requests.config.token_env == "FLEET_GATEWAY_KEY"  # named in the hint on a refused token
    assert resources["sources"].adapter("billing").url == "https://billing.example"
    assert resources["sources"].adapter("events").name == "none"


# The worked example ---------------------------------------------------------------------------

def test_the_worked_example_loads_and_documents_every_adapter(monkeypatch):
    for name in ("LITELLM_DATABASE_URL", *CONTRACT_VARIABLES):
        monkeypatch.setenv(name, "dummy")
    config = read_config(EXAMPLE)
    assert {role: s.adapter for role, s in config.sources().items()} == {
        "requests": "litellm_postgres", "billing": "snapshots_api", "events": "gateway_api",
        "crosscheck": "prometheus",
    }
    assert len(config.resource_map) == 6 and config.models["llama-3.1-70b-instruct-awq"] == "h100-class"
    # Its [accounting] and [checks] spell out the defaults, so they must stay equal to them.
    assert config.accounting == AccountingSettings() and config.checks == CheckSettings()
    text = EXAMPLE.read_text()
    for entry in REGISTRY:
        assert re.search(rf'adapter = "{entry.name}"', text), entry.name
        for key in entry.config.model_fields:
            assert re.search(rf"^#?\s*{key} = ", text, re.MULTILINE), (entry.name, key)

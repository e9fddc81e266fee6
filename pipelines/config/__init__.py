"""The configuration file, read once into one typed settings object (see app.py)."""

from pipelines.config.app import CONFIG_ENV, ENVIRONMENT, LOCAL_FILE, AppConfig, config_path, load_config, read_config
from pipelines.config.errors import ConfigError
from pipelines.config.map_entries import ResourceMapEntry

__all__ = [
    "CONFIG_ENV", "ENVIRONMENT", "LOCAL_FILE", "AppConfig", "ConfigError", "ResourceMapEntry",
    "config_path", "load_config", "read_config",
]

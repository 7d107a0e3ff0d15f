"""Settings: where project files and local state live, and the typed ``journeyflow.yaml``.

``load_config()`` parses the file once per process; everything else reads the ``Config``.
"""

from journeyflow.config.model import (
    Campaign,
    CampaignsConfig,
    Config,
    ConfigError,
    Offer,
    PostalConfig,
    QualityConfig,
    RunConfig,
    SenderConfig,
    SourceConfig,
    VendorProfile,
)
from journeyflow.config.parse import load_config, parse_config
from journeyflow.config.paths import (
    DAGS_DIR,
    PROJECT_DIR,
    SQL_DIR,
    TEMPLATES_DIR,
    config_path,
    home,
    runtime_dir,
)

__all__ = [
    "DAGS_DIR", "PROJECT_DIR", "SQL_DIR", "TEMPLATES_DIR", "Campaign", "CampaignsConfig",
    "Config", "ConfigError", "Offer", "PostalConfig", "QualityConfig", "RunConfig", "SenderConfig",
    "SourceConfig", "VendorProfile", "config_path", "home", "load_config", "parse_config",
    "runtime_dir",
]  # fmt: skip

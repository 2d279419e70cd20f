"""One configuration for the reference model, the host driver and the tools (docs/config.md):
the TOML schema and parser, the SA and policy objects as configured, a hardware build's
limits and the one validation. Imports nothing of espline but the register map."""

from .build import Build
from .options import Options
from .policy import Policy, Selector
from .sa import Event, Lifetime, NatT, SecurityAssociation
from .schema import load, parse, parse_policy, parse_sa
from .validation import Config, ConfigError, ConfigWarning, validate

__all__ = ["Build", "Config", "ConfigError", "ConfigWarning", "Event", "Lifetime", "NatT", "Options", "Policy",
           "SecurityAssociation", "Selector", "load", "parse", "parse_policy", "parse_sa", "validate"]

"""Bit-exact behavioural model of the espline appliance (frames in, frames out)."""

from .accounting import GlobalCounters, Reason
from .aead import EspGcm
from .appliance import Appliance, Port, Verdict
from .config import Config, ConfigError, load, parse
from .replay import ReplayWindow
from .sa import Event, Lifetime, NatT, SecurityAssociation
from .spd import Policy, Selector

__all__ = ["Appliance", "Config", "ConfigError", "EspGcm", "Event", "GlobalCounters", "Lifetime", "NatT",
           "Policy", "Port", "Reason", "ReplayWindow", "SecurityAssociation", "Selector", "Verdict",
           "load", "parse"]

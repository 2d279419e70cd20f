"""Bit-exact behavioural model of the espline appliance (frames in, frames out). Its configuration
is `espline.config`'s; the objects an appliance is built from are here too."""

from espline.config import Event, Lifetime, NatT, Policy, Selector

from .accounting import GlobalCounters, Reason
from .aead import EspGcm
from .appliance import Appliance, Port, Verdict
from .replay import ReplayWindow
from .sa import SecurityAssociation

__all__ = ["Appliance", "EspGcm", "Event", "GlobalCounters", "Lifetime", "NatT", "Policy", "Port", "Reason",
           "ReplayWindow", "SecurityAssociation", "Selector", "Verdict"]

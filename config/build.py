"""A hardware build's limits, as the register map's CAP_* registers report them: what the
validation (`espline.config.validation`) holds a configuration to."""

from dataclasses import dataclass

from espline.regmap import DEFAULTS


@dataclass(frozen=True)
class Build:
    n_sa: int = DEFAULTS["N_SA"]  # SA table entries (CAP_TABLES.N_SA)
    n_policy: int = DEFAULTS["N_POLICY"]  # SPD table entries (CAP_TABLES.N_POLICY)
    window: int = DEFAULTS["WINDOW"]  # the largest replay window (CAP_DATAPATH.WINDOW)
    max_frame: int = DEFAULTS["MAX_FRAME"]  # the longest frame decided (CAP_FRAME.MAX_FRAME, docs/frames.md)


#: The default build (the register map's defaults).
DEFAULT_BUILD = Build()

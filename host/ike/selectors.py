"""Traffic selectors (RFC 7296 §2.9, §3.13.1): the configuration's (`espline.config.ike`) as
IPv4 address ranges, the responder's narrowing, the initiator's check of what was chosen."""

import ipaddress

from .message import TrafficSelector


def ts_of(selectors) -> list[TrafficSelector]:
    """Configured traffic selectors (`espline.config.ike.TrafficSelector`) as ranges (§3.13.1)."""
    out = []
    for s in selectors:
        net = ipaddress.IPv4Network(s.prefix)
        out.append(TrafficSelector(s.protocol or 0, s.ports[0], s.ports[1], int(net.network_address),
                                   int(net.broadcast_address)))
    return out


def narrow(proposed: list[TrafficSelector], allowed: list[TrafficSelector]) -> list[TrafficSelector]:
    """The responder's narrowing (§2.9): each proposed selector intersected with each allowed one."""
    out = []
    for p in proposed:
        for a in allowed:
            if p.protocol and a.protocol and p.protocol != a.protocol:
                continue
            lo, hi = max(p.start_addr, a.start_addr), min(p.end_addr, a.end_addr)
            plo, phi = max(p.start_port, a.start_port), min(p.end_port, a.end_port)
            if lo <= hi and plo <= phi:
                ts = TrafficSelector(p.protocol or a.protocol, plo, phi, lo, hi)
                if ts not in out:
                    out.append(ts)
    return out


def within(chosen: list[TrafficSelector], proposed: list[TrafficSelector]) -> bool:
    """Whether every selector the responder chose lies inside one we proposed (§2.9)."""
    return bool(chosen) and all(any(
        (not p.protocol or c.protocol == p.protocol) and p.start_addr <= c.start_addr <= c.end_addr <= p.end_addr
        and p.start_port <= c.start_port <= c.end_port <= p.end_port for p in proposed) for c in chosen)




def ts_text(selectors: list[TrafficSelector]) -> str:
    """Selectors as prefixes for the log (`10.1.0.0/16`, `10.1.0.1/32[6/80-80]`), as strongSwan writes them."""
    words = []
    for s in selectors:
        nets = ipaddress.summarize_address_range(ipaddress.IPv4Address(s.start_addr), ipaddress.IPv4Address(s.end_addr))
        text = ",".join(str(n) for n in nets)
        if s.protocol or (s.start_port, s.end_port) != (0, 65535):
            text += f"[{s.protocol}/{s.start_port}-{s.end_port}]"
        words.append(text)
    return " ".join(words)

"""Identities (RFC 7296 §3.5) in swanctl.conf's words: an IPv4 address, user@fqdn, @#hex (a
key ID), else an FQDN."""

import ipaddress

from .message import ID_FQDN, ID_IPV4_ADDR, ID_KEY_ID, ID_RFC822_ADDR, Identification


def identification(text: str, initiator: bool) -> Identification:
    """An identity as swanctl.conf writes it: an IPv4 address, user@fqdn, @#hex (key ID), else an FQDN."""
    try:
        return Identification(initiator, ID_IPV4_ADDR, ipaddress.IPv4Address(text).packed)
    except ValueError:
        pass
    if text.startswith("@#"):
        return Identification(initiator, ID_KEY_ID, bytes.fromhex(text[2:]))
    if "@" in text.lstrip("@"):
        return Identification(initiator, ID_RFC822_ADDR, text.encode())
    return Identification(initiator, ID_FQDN, text.lstrip("@").encode())


def id_text(p: Identification) -> str:
    """An identity as swanctl.conf writes it (the inverse of `identification`)."""
    if p.id_type == ID_IPV4_ADDR and len(p.data) == 4:
        return str(ipaddress.IPv4Address(p.data))
    if p.id_type == ID_KEY_ID:
        return "@#" + p.data.hex()
    return p.data.decode(errors="replace")



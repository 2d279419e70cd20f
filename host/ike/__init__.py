"""The IKEv2 daemon (RFC 7296) of `espline ike` (docs/ike.md): messages (`message`), cryptography
(`crypto`, `keys`), proposals (`proposals`), the exchanges of one IKE SA (`sa`), the daemon
(`daemon`), frames and the host port (`frames`, `link`) and the Child SAs' way into the
appliance (`installer`)."""

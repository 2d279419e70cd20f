"""The IKEv2 daemon (RFC 7296) of `espline ike` (docs/ike.md): messages (`message`), cryptography
(`crypto`, `keys`), proposals (`proposals`), traffic selectors (`selectors`), identities
(`identity`), the exchanges of one IKE SA (`sa`), the daemon (`daemon`) and its control socket
(`control`), frames and the host port (`frames`, `link`), the Child SAs' way into the appliance
(`installer`) and the command (`cli`)."""

"""Proposals (RFC 7296 §3.3) in swanctl.conf's words, and their negotiation (§2.7).

A proposal string is algorithms joined by '-', as swanctl.conf writes them:
`aes128gcm16-aes256gcm16-prfsha256-curve25519-ecp256-modp2048` (IKE),
`aes256gcm16-esn-noesn` (ESP; a DH group there asks for PFS in CREATE_CHILD_SA). Several
algorithms of one kind are alternatives, in order of preference.
"""

from dataclasses import dataclass

from .crypto import AUTH_HMAC_SHA2_256_128, ENCR_AES_CBC, ENCR_AES_GCM_16, GROUPS, PRF_HMAC_SHA2_256
from .message import DH, ENCR, ESN, INTEG, PRF, PROTO_IKE, Proposal, Transform

#: swanctl.conf's keywords -> transforms (RFC 7296 §3.3.2, IANA's IKEv2 registry).
KEYWORDS = {
    "aes128gcm16": Transform(ENCR, ENCR_AES_GCM_16, 128), "aes128gcm": Transform(ENCR, ENCR_AES_GCM_16, 128),
    "aes256gcm16": Transform(ENCR, ENCR_AES_GCM_16, 256), "aes256gcm": Transform(ENCR, ENCR_AES_GCM_16, 256),
    "aes128": Transform(ENCR, ENCR_AES_CBC, 128), "aes256": Transform(ENCR, ENCR_AES_CBC, 256),
    "sha256": Transform(INTEG, AUTH_HMAC_SHA2_256_128), "prfsha256": Transform(PRF, PRF_HMAC_SHA2_256),
    "esn": Transform(ESN, 1), "noesn": Transform(ESN, 0),
    **{g.name: Transform(DH, g.number) for g in GROUPS.values()}, "x25519": Transform(DH, 31),
}
NAMES = {(t.type, t.id, t.key_length): name for name, t in reversed(KEYWORDS.items())}

DEFAULT_IKE = "aes128gcm16-aes256gcm16-prfsha256-curve25519-ecp256-modp2048"
DEFAULT_ESP = "aes128gcm16-aes256gcm16-esn-noesn"


class ProposalError(ValueError):
    """A proposal string that names an unknown algorithm or lacks one it needs."""


def parse(text: str, protocol: int) -> Proposal:
    """One proposal string as a proposal of `protocol` (PROTO_IKE or PROTO_ESP)."""
    transforms = []
    for word in text.lower().split("-"):
        if word not in KEYWORDS:
            raise ProposalError(f"{text!r}: unknown algorithm {word!r} (known: {', '.join(sorted(KEYWORDS))})")
        t = KEYWORDS[word]
        transforms.append(t)
        if protocol == PROTO_IKE and t.type == INTEG and not any(x.type == PRF for x in transforms):
            transforms.append(Transform(PRF, PRF_HMAC_SHA2_256))  # swanctl: the PRF follows the integrity
    kinds = {t.type for t in transforms}
    gcm = any(t.type == ENCR and t.id == ENCR_AES_GCM_16 for t in transforms)
    cbc = any(t.type == ENCR and t.id == ENCR_AES_CBC for t in transforms)
    if ENCR not in kinds:
        raise ProposalError(f"{text!r}: no encryption algorithm")
    if gcm and cbc:
        raise ProposalError(f"{text!r}: combined-mode (GCM) and plain (CBC) ciphers in one proposal (RFC 7296 §3.3)")
    if cbc and INTEG not in kinds:
        raise ProposalError(f"{text!r}: AES-CBC needs an integrity algorithm (sha256)")
    if gcm and INTEG in kinds:
        raise ProposalError(f"{text!r}: AES-GCM takes no integrity algorithm (RFC 5282 §8)")
    if protocol == PROTO_IKE:
        if PRF not in kinds:
            raise ProposalError(f"{text!r}: no PRF (prfsha256)")
        if DH not in kinds:
            raise ProposalError(f"{text!r}: no Diffie-Hellman group (curve25519, ecp256, modp2048)")
        if ESN in kinds:
            raise ProposalError(f"{text!r}: esn/noesn are for ESP proposals")
    else:
        if PRF in kinds:
            raise ProposalError(f"{text!r}: a PRF is for IKE proposals")
        if ESN not in kinds:
            transforms.append(Transform(ESN, 0))
    # a proposal lists its transforms grouped by type (strongSwan's order; any order is valid)
    transforms.sort(key=lambda t: [ENCR, INTEG, PRF, DH, ESN].index(t.type))
    return Proposal(0, protocol, b"", transforms)


def parse_list(texts: list[str], protocol: int) -> list[Proposal]:
    proposals = [parse(t, protocol) for t in texts]
    if not proposals:
        raise ProposalError("no proposal")
    return proposals


def offer(ours: list[Proposal], spi: bytes, dh_group: int | None = None) -> list[Proposal]:
    """Our proposals as an SA payload carries them: numbered from 1, with `spi`; with
    `dh_group` (a KE payload goes with them), proposals that name that group first (§2.7)."""
    out = [Proposal(i + 1, p.protocol, spi, list(p.transforms)) for i, p in enumerate(ours)]
    if dh_group is not None:
        for p in out:
            dhs = p.of_type(DH)
            if any(t.id == dh_group for t in dhs):
                rest = [t for t in p.transforms if t.type != DH]
                p.transforms = rest + [t for t in dhs if t.id == dh_group] + [t for t in dhs if t.id != dh_group]
    return out


def without_dh(proposals: list[Proposal]) -> list[Proposal]:
    """ESP proposals as IKE_AUTH carries them: no KE goes with the first Child SA, so no DH (§1.2)."""
    return [Proposal(p.number, p.protocol, p.spi, [t for t in p.transforms if t.type != DH]) for p in proposals]


def select(offered: list[Proposal], ours: list[Proposal]) -> Proposal | None:
    """The responder's choice (§2.7): the first offered proposal one of ours matches, reduced to
    one transform per type (the offer's first that we also name); None if none matches. A type
    is matched when both name it, or neither does."""
    for theirs in offered:
        for mine in ours:
            if theirs.protocol != mine.protocol:
                continue
            chosen = []
            for kind in sorted({t.type for t in theirs.transforms} | {t.type for t in mine.transforms}):
                common = [t for t in theirs.of_type(kind) if t in mine.of_type(kind)]
                if not common:
                    break
                chosen.append(common[0])
            else:
                return Proposal(theirs.number, theirs.protocol, theirs.spi, chosen)
    return None


def check_choice(chosen: Proposal, offered: list[Proposal]) -> bool:
    """Whether a responder's choice is one transform per type out of one of our offered proposals."""
    for p in offered:
        if p.number == chosen.number and p.protocol == chosen.protocol:
            kinds = [t.type for t in chosen.transforms]
            return (len(kinds) == len(set(kinds)) == len({t.type for t in p.transforms})
                    and all(t in p.transforms for t in chosen.transforms))
    return False


@dataclass(frozen=True)
class Suite:
    """A chosen proposal's algorithms: encryption (and key bits), integrity, PRF, DH group, ESN."""
    encryption: int
    key_bits: int
    integrity: int | None
    prf: int | None
    dh: int | None
    esn: bool

    @classmethod
    def of(cls, p: Proposal) -> "Suite":
        def one(kind):
            ts = p.of_type(kind)
            return ts[0] if ts else None
        encr, integ, prf_, dh, esn = (one(k) for k in (ENCR, INTEG, PRF, DH, ESN))
        return cls(encr.id, encr.key_length or 128, integ.id if integ else None, prf_.id if prf_ else None,
                   dh.id if dh and dh.id else None, bool(esn and esn.id))

    @property
    def encryption_keymat(self) -> int:
        """Bytes of encryption key material: with GCM the key and its 4-byte salt (RFC 5282 §7.1, RFC 4106 §8.1)."""
        return self.key_bits // 8 + (4 if self.encryption == ENCR_AES_GCM_16 else 0)

    @property
    def integrity_keymat(self) -> int:
        return 32 if self.integrity == AUTH_HMAC_SHA2_256_128 else 0

    def describe(self) -> str:
        words = [NAMES.get((ENCR, self.encryption, self.key_bits), f"encr{self.encryption}")]
        if self.integrity:
            words.append(NAMES[(INTEG, self.integrity, None)])
        if self.prf:
            words.append(NAMES[(PRF, self.prf, None)])
        if self.dh:
            words.append(GROUPS[self.dh].name)
        return "/".join(words) + ("/esn" if self.esn else "")


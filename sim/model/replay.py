"""Anti-replay window: RFC 4303 §3.4.3, with ESN high-half inference (RFC 4303 Appendix A2).

The window is exact: of the W sequence numbers ending at the highest one verified (T),
each is accepted once; anything below T - W + 1 is too old. `check` is side-effect free
(it runs before the ICV is verified); `update` runs only after the ICV verified.

A new window starts at `top` (an SA's `replay_seq`, docs/config.md) with all of its W numbers
marked received: no number up to `top` is accepted, as if the packets up to it had come (an SA
taken over from another device, whose window may have accepted any of them).
"""


class ReplayWindow:
    def __init__(self, size: int = 128, esn: bool = False, top: int = 0):
        if size < 1:
            raise ValueError("replay-window: size must be at least 1")
        self.size = size
        self.esn = esn
        self.top = top  # T: highest verified sequence number (0: none yet)
        self.bitmap = (1 << size) - 1  # bit i set: sequence number top - i was received (or is <= 0)

    def infer(self, seq_low: int) -> int:
        """Full sequence number for a received low 32 bits (RFC 4303 Appendix A2.2)."""
        if not self.esn:
            return seq_low
        w, tl, th = self.size, self.top & 0xFFFFFFFF, self.top >> 32
        bottom = (tl - w + 1) & 0xFFFFFFFF
        if tl >= w - 1:  # case A: window within one 2^32 subspace
            high = th if seq_low >= bottom else th + 1
        else:  # case B: window spans two subspaces
            high = th - 1 if seq_low >= bottom else th
        return (high << 32) | seq_low if high >= 0 else -1

    def check(self, seq: int) -> bool:
        """Whether a (full) sequence number may be new."""
        if seq <= 0:
            return False
        if seq > self.top:
            return True
        offset = self.top - seq
        return offset < self.size and not (self.bitmap >> offset) & 1

    def update(self, seq: int) -> None:
        """Record a sequence number whose ICV verified (and that `check` accepted)."""
        if seq > self.top:
            shift = seq - self.top
            self.bitmap = ((self.bitmap << shift) | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            self.top = seq
        else:
            self.bitmap |= 1 << (self.top - seq)

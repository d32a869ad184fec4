"""Bech32m (BIP 350) for chia addresses: ``xch1…`` is a 32-byte puzzle hash in bech32m.

The sandbox needs it twice: to make up a well-formed pool contract address for its config, and,
like the real ``chia plots create``, to turn ``-c ADDRESS`` back into the puzzle hash that goes
into the plot memo (a typo in an address must be refused, not plotted).
"""

from __future__ import annotations

from collections.abc import Iterable

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LEN = 6
# BIP 173: an address is at most 90 characters; chia's are 62 (xch) or 63 (txch).
_MAX_LEN = 90


def _polymod(values: Iterable[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = ((checksum & 0x1FFFFFF) << 5) ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: Iterable[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    """Regroup a bit stream from ``from_bits``-wide to ``to_bits``-wide words."""
    accumulator = 0
    bits = 0
    out: list[int] = []
    mask = (1 << to_bits) - 1
    for value in data:
        if value < 0 or value >> from_bits:
            raise ValueError("value out of range")
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & mask)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & mask)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & mask:
        raise ValueError("invalid padding")
    return out


def encode_puzzle_hash(puzzle_hash: bytes, prefix: str = "xch") -> str:
    """The address of a 32-byte puzzle hash, e.g. ``xch1…``."""
    if len(puzzle_hash) != 32:
        raise ValueError(f"a puzzle hash is 32 bytes, not {len(puzzle_hash)}")
    data = _regroup(puzzle_hash, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(prefix), *data, *[0] * _CHECKSUM_LEN]) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LEN)]
    return prefix + "1" + "".join(_CHARSET[d] for d in data + checksum)


def decode_puzzle_hash(address: str) -> bytes:
    """The 32-byte puzzle hash of an address; ``ValueError`` saying why when it is not one."""
    if len(address) > _MAX_LEN:
        raise ValueError("too long for an address")
    if address.lower() != address and address.upper() != address:
        raise ValueError("mixed upper and lower case")
    address = address.lower()
    separator = address.rfind("1")
    if separator < 1 or separator + 1 + _CHECKSUM_LEN > len(address):
        raise ValueError("no prefix or data part")
    prefix, rest = address[:separator], address[separator + 1 :]
    if any(c not in _CHARSET for c in rest):
        raise ValueError("invalid character")
    data = [_CHARSET.find(c) for c in rest]
    if _polymod([*_hrp_expand(prefix), *data]) != _BECH32M_CONST:
        raise ValueError("bad checksum")
    decoded = bytes(_regroup(data[:-_CHECKSUM_LEN], 5, 8, pad=False))
    if len(decoded) != 32:
        raise ValueError(f"holds {len(decoded)} bytes, not a 32-byte puzzle hash")
    return decoded

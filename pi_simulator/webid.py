r"""WebID 2.0 encoding and decoding, as the PI Web API documents it.

A WebID is ``<type><version '1'><marker>[<owner>]<payload>``; payload parts are base64url without
padding. GUIDs are serialised in .NET ``Guid.ToByteArray()`` order (``uuid.bytes_le``), point ids as
little-endian Int32, and paths upper-cased UTF-8 without the leading ``\\``. Real clients build
PathOnly WebIDs themselves, so the simulator must accept every type it hands out and the ones a client
can construct.
"""

from __future__ import annotations

import base64
import struct
import uuid
from dataclasses import dataclass

FULL, ID_ONLY, PATH_ONLY = "F", "I", "P"
POINT, DATA_SERVER = "DP", "DS"
ASSET_SERVER, DATABASE, ELEMENT, ELEMENT_TEMPLATE, EVENT_FRAME, ATTRIBUTE = "RS", "RD", "Em", "ET", "Fm", "Ab"
#: GUIDs in the payload of each AF type: the AF system's, then the database's or the object's (an
#: attribute: its owner's, then its own)
_AF_GUIDS = {ASSET_SERVER: 1, DATABASE: 2, ELEMENT: 2, ELEMENT_TEMPLATE: 2, EVENT_FRAME: 2, ATTRIBUTE: 3}
_OWNED = {ATTRIBUTE}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_guid(guid: uuid.UUID) -> str:
    return _b64(guid.bytes_le)


def decode_guid(text: str) -> uuid.UUID:
    return uuid.UUID(bytes_le=_unb64(text))


def encode_path(path: str) -> str:
    return _b64(path.lstrip("\\").upper().encode("utf-8"))


def decode_path(text: str) -> str:
    return _unb64(text).decode("utf-8")


def data_server_webid(server_id: uuid.UUID, name: str, kind: str = FULL) -> str:
    if kind == ID_ONLY:
        return "I1DS" + encode_guid(server_id)
    if kind == PATH_ONLY:
        return "P1DS" + encode_path(name)
    return "F1DS" + encode_guid(server_id) + encode_path(name)


def point_webid(server_id: uuid.UUID, point_id: int, path: str, kind: str = FULL) -> str:
    r"""``path`` is ``SERVER\TAG`` (leading backslashes optional)."""
    pid = _b64(struct.pack("<i", point_id))
    if kind == ID_ONLY:
        return "I1DP" + encode_guid(server_id) + pid
    if kind == PATH_ONLY:
        return "P1DP" + encode_path(path)
    return "F1DP" + encode_guid(server_id) + pid + encode_path(path)


@dataclass(frozen=True)
class DecodedWebId:
    kind: str
    marker: str
    server_id: uuid.UUID | None = None
    point_id: int | None = None
    path: str | None = None


def decode(webid: str) -> DecodedWebId:
    """Decode a data-server or point WebID 2.0; raises ``ValueError`` for anything else."""
    if len(webid) < 4 or webid[1] != "1":
        raise ValueError(f"not a WebID 2.0: {webid!r}")
    kind, marker, body = webid[0], webid[2:4], webid[4:]
    if kind not in (FULL, ID_ONLY, PATH_ONLY) or marker not in (POINT, DATA_SERVER):
        raise ValueError(f"unsupported WebID type or marker: {webid!r}")
    try:
        if kind == PATH_ONLY:
            return DecodedWebId(kind, marker, path=decode_path(body))
        server_id = decode_guid(body[:22])
        rest = body[22:]
        point_id = None
        if marker == POINT:
            point_id = struct.unpack("<i", _unb64(rest[:6]))[0]
            rest = rest[6:]
        path = decode_path(rest) if (kind == FULL and rest) else None
        return DecodedWebId(kind, marker, server_id, point_id, path)
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed WebID: {webid!r}") from exc


def af_webid(marker: str, guids: tuple[uuid.UUID, ...], path: str, owner: str = "", kind: str = FULL) -> str:
    """An Asset Framework WebID: ``marker`` (``Em``, ``Ab``, ``Fm``, ...), the owner marker for owned types
    (``E`` element, ``F`` event frame), the GUIDs and, for Full WebIDs, the path."""
    if kind == PATH_ONLY:
        return "P1" + marker + owner + encode_path(path)
    ids = "".join(encode_guid(g) for g in guids)
    return ("I1" if kind == ID_ONLY else "F1") + marker + owner + ids + (encode_path(path) if kind == FULL else "")


def asset_server_webid(server_id: uuid.UUID, name: str, kind: str = FULL) -> str:
    return af_webid(ASSET_SERVER, (server_id,), name, kind=kind)


@dataclass(frozen=True)
class DecodedAFWebId:
    kind: str
    marker: str
    owner: str
    guids: tuple[uuid.UUID, ...]
    path: str | None = None


def decode_af(webid: str) -> DecodedAFWebId:
    """Decode an AF WebID 2.0 (asset server, database, element, template, event frame, attribute)."""
    if len(webid) < 4 or webid[1] != "1":
        raise ValueError(f"not a WebID 2.0: {webid!r}")
    kind, marker = webid[0], webid[2:4]
    if kind not in (FULL, ID_ONLY, PATH_ONLY) or marker not in _AF_GUIDS:
        raise ValueError(f"unsupported WebID type or marker: {webid!r}")
    owner, body = "", webid[4:]
    if marker in _OWNED:
        owner, body = body[:1], body[1:]
        if owner not in ("E", "F"):
            raise ValueError(f"unsupported owner of an attribute WebID: {webid!r}")
    try:
        if kind == PATH_ONLY:
            return DecodedAFWebId(kind, marker, owner, (), decode_path(body))
        n = _AF_GUIDS[marker]
        guids = tuple(decode_guid(body[22 * i : 22 * (i + 1)]) for i in range(n))
        rest = body[22 * n :]
        if kind == ID_ONLY and rest:
            raise ValueError(f"malformed WebID: {webid!r}")
        return DecodedAFWebId(kind, marker, owner, guids, decode_path(rest) if kind == FULL and rest else None)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed WebID: {webid!r}") from exc


def is_event_frame_attribute(webid: str) -> bool:
    """A Full or IDOnly WebID of an event frame's attribute (owner ``F``): the attribute routes answer
    it from the event frames, not from the element hierarchy."""
    try:
        decoded = decode_af(webid)
    except ValueError:
        return False
    return decoded.marker == ATTRIBUTE and decoded.owner == "F" and decoded.kind != PATH_ONLY

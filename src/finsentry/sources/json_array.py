"""A ``.json`` file holding one JSON array of news objects (as many APIs and exports write them),
cut into its elements' exact bytes, so each element is a record like a line of a JSONL file.

The cut follows JSON's structure without decoding values: strings (with their escapes) and nested
arrays and objects are skipped over, and each comma or closing bracket at the top level ends an
element. Nothing is dropped: an unterminated array's tail, and anything after its closing
bracket, come out as records of their own, which validation then dead-letters with their bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["MAX_ARRAY_BYTES", "array_elements", "opens_array"]

MAX_ARRAY_BYTES = 512 * 1024 * 1024  # a whole array is read at once: larger ones as JSON lines
_STRUCTURE = re.compile(rb'["\\\[\]{},]')
_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_BLANK = b" \t\r\n\xef\xbb\xbf"  # whitespace, and a UTF-8 byte order mark's bytes


def opens_array(head: bytes) -> bool:
    """Whether a file beginning with ``head`` holds a JSON array (its first non-blank byte)."""
    return head.lstrip(_BLANK).startswith(b"[")


def array_elements(data: bytes) -> Iterator[bytes]:
    """The bytes of each top-level element of the array ``data`` holds, in order, without the
    whitespace around them; then any tail the array does not account for."""
    body = data.lstrip(_BLANK)
    if not body.startswith(b"["):
        yield body.strip()
        return
    depth, in_string, skip_to, start = 0, False, -1, 1
    for match in _STRUCTURE.finditer(body):
        at = match.start()
        if at < skip_to:
            continue  # the character a backslash escapes
        char = body[at]
        if in_string:
            if char == _BACKSLASH:
                skip_to = at + 2
            elif char == _QUOTE:
                in_string = False
        elif char == _QUOTE:
            in_string = True
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth == 0:  # the array's own closing bracket
                element = body[start:at].strip()
                if element:
                    yield element
                rest = body[at + 1 :].strip()
                if rest:
                    yield rest
                return
        elif char == _COMMA and depth == 1:
            yield body[start:at].strip()
            start = at + 1
    tail = body[start:].strip()  # the array never closed
    if tail:
        yield tail

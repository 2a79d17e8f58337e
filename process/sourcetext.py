"""The text of a definition file before YAML reads it: size, encoding and characters.

A definition is written by people, often with a Chinese input method, and read by the worker:
a file too big to load quickly, bytes that are not UTF-8, control characters, full-width
colons and ideographic-space indentation each get their own message at their own line,
instead of a YAML error that points somewhere else (or a hang).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from .problems import Problem

MAX_FILE_BYTES = 1_000_000
"""The largest definition file kesu reads (the 100-stage benchmark definition is ~60 kB)."""
MAX_REPORTED = 10
"""Characters problems reported per file: the eleventh bad byte adds nothing to read."""

# What YAML refuses (and PyYAML would report as 'unacceptable character #x0000').
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_C0_NAMES = [
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "HT", "LF", "VT", "FF", "CR",
    "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
    "FS", "GS", "RS", "US",
]  # fmt: skip
# A key is ASCII in kesu; an ASCII word followed by a full-width colon is a key whose ':' was
# typed with a Chinese input method ('title：' or '{to： closed}').
_FULL_WIDTH_KEY = re.compile(r"(?:^[ \t]*(?:-[ \t]+)*|[{,][ \t]*)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*：")
_INDENT = re.compile(r"^[ \t\u3000]*")


def character_name(char: str) -> str:
    """``U+001B (ESC)``: how a designer can find the character in an editor."""
    code = ord(char)
    if code < 0x20:
        name = _C0_NAMES[code]
    elif code == 0x7F:
        name = "DEL"
    elif 0x80 <= code < 0xA0:
        name = "a C1 control character"
    elif 0xD800 <= code < 0xE000:
        name = "a lone surrogate"
    else:
        name = unicodedata.name(char, "a non-character")
    return f"U+{code:04X} ({name})"


def too_big(size: int) -> str | None:
    if size <= MAX_FILE_BYTES:
        return None
    return (
        f"the file is {size:,} bytes; a definition may be at most {MAX_FILE_BYTES:,} bytes "
        "(split the process, or generate less)"
    )


def decode(data: bytes) -> tuple[str | None, Problem | None]:
    """UTF-8 text, or the line where it stops being UTF-8 and what the file looks like."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex().upper()
        message = f"not UTF-8 text (byte 0x{byte} on this line)"
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            message += "; the file is UTF-16: save it as UTF-8"
        else:
            try:
                data.decode("gb18030")
                message += "; it looks like GBK/GB18030: save the file as UTF-8"
            except UnicodeDecodeError:
                message += "; save the file as UTF-8"
        return None, Problem(line, "", message)


def text_problems(text: str) -> list[Problem]:
    """What no definition may contain, each named at its line: too many bytes, control
    characters (YAML refuses them, and a NUL is never meant)."""
    # Encoding megabytes only to refuse them would be slow: characters are at most bytes.
    size = len(text) if len(text) > MAX_FILE_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if (message := too_big(size)) is not None:
        return [Problem(1, "", message)]
    problems: list[Problem] = []
    if _UNPRINTABLE.search(text) is None:
        return problems
    for number, line in enumerate(text.splitlines(), start=1):
        bad = _UNPRINTABLE.search(line)
        if bad is not None:
            name, column = character_name(bad.group()), bad.start() + 1
            problems.append(Problem(number, "", f"control character {name} in column {column}"))
            if len(problems) >= MAX_REPORTED:
                break
    return problems


def suspicions(text: str, skip: Callable[[int], bool] = lambda line: False) -> list[Problem]:
    """Lines typed with a Chinese input method's full-width characters where YAML needs ASCII:
    the likely cause when the YAML or its shape is wrong. ``skip`` leaves out lines where such
    characters are content (block text)."""
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if skip(number):
            continue
        if (found := _line_suspicion(line)) is not None:
            problems.append(Problem(number, "", found))
            if len(problems) >= MAX_REPORTED:
                break
    return problems


def _line_suspicion(line: str) -> str | None:
    indent = _INDENT.match(line)
    if indent is not None and line.strip():
        if "\u3000" in indent.group():
            return (
                "indented with an ideographic (full-width) space U+3000: indent with ordinary "
                "spaces"
            )
        if "\t" in indent.group():
            return "indented with a tab: YAML indents with spaces only"
    key = _FULL_WIDTH_KEY.search(_without_comment(line))
    if key is not None:
        return (
            f"full-width colon '：' after {key.group(1)!r}: write an ASCII ':' and a space "
            "(switch the input method to half-width)"
        )
    return None


def _without_comment(line: str) -> str:
    """The line up to a ``#`` comment (a rough cut: good enough to skip commented-out text)."""
    if line.lstrip().startswith("#"):
        return ""
    index = line.find(" #")
    return line if index < 0 else line[:index]

"""Assembly sources, assembled with Keystone (Intel syntax). The only module importing it.

Keystone's Intel dialect is GNU ``as`` with ``.intel_syntax noprefix``. A small preprocessor
adds what people writing NASM-style sources expect, and works around Keystone's quirks:

* ``;`` starts a comment (Keystone would take it as a statement separator);
* ``%include "file"`` or ``.include "file"`` pastes a file, looked up next to the source,
  then in ``include_dirs`` (the ZerOS syscall header lives there);
* ``section .text`` / ``.data`` / ``.rodata`` / ``.bss`` (also ``.text``, ``.data``...):
  text and rodata go to a read-only executable segment, data and bss to a writable one on
  the next page;
* ``NAME equ VALUE``, ``db``/``dw``/``dd``/``dq`` (strings in quotes allowed), ``resb``/
  ``resw``/``resd``/``resq``; ``global``/``extern`` lines are ignored;
* ``bits 64`` (or ``[bits 64]``, ``.code64``) makes it an x86-64 source: 64-bit code
  (:func:`source_bits`);
* NASM's ``dword [x]`` becomes ``dword ptr [x]`` (Keystone silently emits nothing for it);
* ``push label`` is emitted as ``push imm32`` by hand (Keystone fails with "invalid fixup").

The entry point is ``_start`` when defined, else the first byte of text. Errors become
:class:`AssemblyError` with the file and line of the source, and Keystone's message.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import AssemblyError
from .image import Image, Segment
from .mmu import PAGE_SIZE

DEFAULT_BASE = 0x08048000
_MAX_INCLUDE_DEPTH = 16
_SECTIONS = {".text": "text", ".rodata": "text", ".data": "data", ".bss": "data"}
_SECTION_RE = re.compile(r"^\s*(?:(?:section|segment|\.section)\s+)?(\.text|\.data|\.rodata|"
                         r"\.bss)\b\s*(?:,.*)?$", re.I)
_SECTION_WORD_RE = re.compile(r"^\s*(section|segment|\.section)\s+(\S+)", re.I)
_INCLUDE_RE = re.compile(r"""^\s*(?:%include|\.include)\s+["<]([^">]+)[">]\s*$""", re.I)
_IGNORED_RE = re.compile(r"^\s*(global|\.globl|\.global|extern|\.extern|\[?bits\s+(32|64)\]?|"
                         r"\.code(32|64)|\.intel_syntax(\s+noprefix)?)(\b|$).*$", re.I)
_BITS64_RE = re.compile(r"^\s*(\[?bits\s+64\]?|\.code64)\s*(;.*)?$", re.I | re.M)
_EQU_RE = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s+equ\s+(.+)$", re.I)
_DATA_RE = re.compile(r"^(\s*(?:[A-Za-z_.$][\w.$]*:)?\s*)(db|dw|dd|dq|resb|resw|resd|resq)"
                      r"\s+(.*)$", re.I)
_PUSH_RE = re.compile(r"^(\s*(?:[A-Za-z_.$][\w.$]*:)?\s*)push\s+(?:dword\s+)?(?:offset\s+)?"
                      r"([A-Za-z_.$][\w.$]*)\s*$", re.I)
_SIZE_RE = re.compile(r"\b(byte|word|dword|qword)\s+(?!ptr\b)(?=\[)", re.I)
_START_RE = re.compile(r"^\s*_start\s*:", re.M)
_REGISTERS = {"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "ax", "bx", "cx", "dx",
              "si", "di", "bp", "sp", "al", "ah", "bl", "bh", "cl", "ch", "dl", "dh",
              "cs", "ds", "es", "fs", "gs", "ss"}


@dataclass(frozen=True)
class _Line:
    text: str
    path: str | None
    number: int | None
    original: str | None


def strip_comment(line: str) -> str:
    """Cut a ``;`` comment, leaving ``;`` inside quotes alone."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == "\\":
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            return line[:i]
    return line


def _split_items(text: str) -> list[str]:
    items, current, quote = [], "", None
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            current += ch
        elif ch == ",":
            items.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        items.append(current.strip())
    return items


def _gas_string(body: str) -> str:
    out = []
    for ch in body:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):03o}")
    return '"' + "".join(out) + '"'


def _data_directive(prefix: str, word: str, args: str) -> list[str]:
    word = word.lower()
    if word.startswith("res"):
        unit = {"resb": 1, "resw": 2, "resd": 4, "resq": 8}[word]
        return [f"{prefix}.space ({args.strip()}) * {unit}"]
    directive = {"db": ".byte", "dw": ".short", "dd": ".long", "dq": ".quad"}[word]
    lines, first = [], True
    for item in _split_items(args):
        lead = prefix if first else ""
        first = False
        if len(item) >= 2 and item[0] in "'\"`" and item[-1] == item[0]:
            body = item[1:-1]
            if item[0] == '"':  # keep C escapes of double-quoted strings
                lines.append(f'{lead}.ascii "{body}"')
            else:
                lines.append(f"{lead}.ascii {_gas_string(body)}")
        else:
            lines.append(f"{lead}{directive} {item}")
    return lines or [prefix]


def _rewrite(line: str) -> list[str]:
    """One source line (comment already stripped) as Keystone lines."""
    m = _EQU_RE.match(line)
    if m:
        value = re.sub(r"(?<![\w.$])\$(?![\w.$])", ".", m.group(2).strip())  # NASM's $ is GAS's .
        return [f"{m.group(1)} = {value}"]
    m = _DATA_RE.match(line)
    if m:
        return _data_directive(m.group(1), m.group(2), m.group(3))
    m = _PUSH_RE.match(line)
    if m and m.group(2).lower() not in _REGISTERS:
        return [f"{m.group(1)}.byte 0x68", f".long {m.group(2)}"]
    return [_SIZE_RE.sub(r"\1 ptr ", line)]  # NASM's "dword [x]" is "dword ptr [x]" here


def _read_source(path: Path, include_dirs: tuple[Path, ...], depth: int,
                 origin: str | None = None) -> list[_Line]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise AssemblyError(f"cannot read {path}: {error.strerror or error}", origin) from None
    return _lines_of(text, str(path), path.parent, include_dirs, depth)


def _lines_of(text: str, path: str | None, folder: Path | None,
              include_dirs: tuple[Path, ...], depth: int) -> list[_Line]:
    out: list[_Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        m = _INCLUDE_RE.match(strip_comment(raw))
        if m:
            if depth >= _MAX_INCLUDE_DEPTH:
                raise AssemblyError("includes nested too deep (a cycle?)", path, number, raw)
            name = m.group(1)
            for candidate_dir in ((folder,) if folder else ()) + include_dirs:
                candidate = candidate_dir / name
                if candidate.is_file():
                    out += _read_source(candidate, include_dirs, depth + 1, path)
                    break
            else:
                raise AssemblyError(f"include file {name!r} not found", path, number, raw)
            continue
        out.append(_Line(raw, path, number, raw))
    return out


_NAME_RE = re.compile(r"(?<![\w.$])([A-Za-z_.$][\w.$]*)(?![\w.$])")
_TOKEN_RE = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|\d+)|"
                       r"(<<|>>|[-+*/%&|^~()]))")
_LIMIT = 1 << 64  # a constant beyond this is not a number this assembler substitutes


def evaluate(text: str) -> int | None:
    """The value of an integer expression (numbers, + - * / % << >> & | ^ ~ and
    parentheses, with C's precedence), or None when ``text`` is not one (or its value is
    too large, or it divides by zero). No Python evaluation: ``9**9**9`` is simply not a
    number here."""
    tokens: list[tuple[str, str]] = []
    at = 0
    text = text.strip()
    while at < len(text):
        m = _TOKEN_RE.match(text, at)
        if m is None or m.end() == at:
            return None
        number, op = m.groups()
        tokens.append(("n", number) if number else ("o", op))
        at = m.end()
        while at < len(text) and text[at].isspace():
            at += 1
    position = [0]
    levels = (("|",), ("^",), ("&",), ("<<", ">>"), ("+", "-"), ("*", "/", "%"))

    def peek():
        return tokens[position[0]] if position[0] < len(tokens) else ("", "")

    def binary(level: int) -> int:
        if level == len(levels):
            return unary()
        value = binary(level + 1)
        while peek()[0] == "o" and peek()[1] in levels[level]:
            op = tokens[position[0]][1]
            position[0] += 1
            right = binary(level + 1)
            value = _apply(op, value, right)
        return value

    def unary() -> int:
        kind, token = peek()
        position[0] += 1
        if kind == "n":
            return int(token, 0)
        if token == "-":
            return -unary()
        if token == "+":
            return unary()
        if token == "~":
            return ~unary()
        if token == "(":
            value = binary(0)
            if peek() != ("o", ")"):
                raise ValueError("unbalanced parenthesis")
            position[0] += 1
            return value
        raise ValueError(f"unexpected {token!r}")

    try:
        value = binary(0)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if position[0] != len(tokens) or abs(value) >= _LIMIT:
        return None
    return value


def _apply(op: str, a: int, b: int) -> int:
    if op in ("<<", ">>") and not 0 <= b < 64:
        raise ValueError("shift out of range")
    result = {"|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
              "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b,
              "-": lambda: a - b, "*": lambda: a * b, "/": lambda: int(a / b),
              "%": lambda: a % b}[op]()
    if abs(result) >= _LIMIT:
        raise OverflowError("constant too large")
    return result


def numeric_constants(lines: list[_Line]) -> dict[str, int]:
    """``NAME equ VALUE`` (or ``NAME = VALUE``) whose value is a number once the constants
    before it are known. Keystone mis-assembles a memory operand that mixes a label with a
    symbolic constant (``[buf + FIELD]`` loses the label), so these are substituted as text,
    as NASM's equ behaves; values that depend on labels (``$ - msg``) stay symbols."""
    found: dict[str, int] = {}
    pending = []
    for line in lines:
        code = strip_comment(line.text).strip()
        m = _EQU_RE.match(code) or re.match(r"^([A-Za-z_.$][\w.$]*)\s*=\s*(.+)$", code)
        if m:
            pending.append((m.group(1), m.group(2).strip()))
    progress = True
    while progress:  # definitions may come in any order
        progress = False
        for name, value in list(pending):
            number = evaluate(_substitute(value, found))
            if number is not None:
                found[name] = number
                pending.remove((name, value))
                progress = True
    return found


def _substitute(text: str, constants: dict[str, int]) -> str:
    """Replace constant names outside quotes by their values."""
    if not constants:
        return text
    parts = re.split(r"""("[^"]*"|'[^']*')""", text)
    for i in range(0, len(parts), 2):
        parts[i] = _NAME_RE.sub(lambda m: str(constants[m.group(1)])
                                if m.group(1) in constants else m.group(1), parts[i])
    return "".join(parts)


def preprocess(lines: list[_Line]) -> tuple[list[_Line], list[_Line]]:
    """Split into (text, data) Keystone lines, each remembering its source line."""
    buckets: dict[str, list[_Line]] = {"text": [], "data": []}
    current = "text"
    constants = numeric_constants(lines)
    for line in lines:
        code = strip_comment(line.text).rstrip()
        if not code.strip() or _IGNORED_RE.match(code):
            continue
        m = _EQU_RE.match(code)
        if m and m.group(1) in constants:
            continue  # substituted everywhere
        code = _substitute(code, constants)
        m = _SECTION_RE.match(code)
        if m:
            current = _SECTIONS[m.group(1).lower()]
            continue
        m = _SECTION_WORD_RE.match(code)
        if m:
            raise AssemblyError(f"unsupported section directive {code.strip()!r} (sections are "
                                f".text, .rodata, .data and .bss)", line.path, line.number,
                                line.original)
        problem = _bracket_problem(code)
        if problem:
            raise AssemblyError(problem, line.path, line.number, line.original)
        for piece in _rewrite(code):
            buckets[current].append(_Line(piece, line.path, line.number, line.original))
    return buckets["text"], buckets["data"]


_LABELS_RE = re.compile(r"^\s*(?:[A-Za-z_.$][\w.$]*:\s*)*")


def _bracket_problem(code: str) -> str | None:
    """Keystone 0.9.2 never returns on some lines with brackets (a statement that starts
    with one, a directive holding one, an unbalanced one): refuse them first."""
    depth = {"(": 0, "[": 0}
    closing = {")": "(", "]": "["}
    quote = None
    outside = []
    for ch in code:
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
            continue
        outside.append(ch)
        if ch in depth:
            depth[ch] += 1
        elif ch in closing:
            depth[closing[ch]] -= 1
            if depth[closing[ch]] < 0:
                return f"unbalanced {ch!r}"
    if any(depth.values()):
        return "unbalanced brackets or parentheses"
    statement = _LABELS_RE.sub("", "".join(outside), count=1).lstrip()
    if statement[:1] in ("(", "["):
        return f"a statement cannot start with {statement[0]!r}"
    if statement.startswith(".") and ("[" in statement or "]" in statement):
        return "brackets in a directive"
    return None


@lru_cache(maxsize=2)
def _keystone(bits: int = 32):
    from keystone import KS_ARCH_X86, KS_MODE_32, KS_MODE_64, Ks

    return Ks(KS_ARCH_X86, KS_MODE_64 if bits == 64 else KS_MODE_32)


@contextmanager
def _captured_stderr():
    """Keystone (LLVM) prints some diagnostics on file descriptor 2: keep them for the
    error message instead of letting them reach the user's terminal."""
    box = {"text": ""}
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield box
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            box["text"] = tmp.read().decode(errors="replace")


class _Silent(Exception):
    """Keystone returned no bytes and no error."""

    def __str__(self) -> str:
        return "the assembler produced no output for this line"


# A number Keystone's lexer reads: decimal, or octal with a leading 0 (hex and binary have a
# prefix or suffix, and are left alone), outside string and character literals.
_NUMBER = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?<![\w$.])(\d+)(?![\w$.])""")


def _radix_free(source: str) -> str:
    """``source`` with every decimal (and leading-0 octal) number written in hex.

    Keystone 0.9.2 reads bare numbers in the radix its parser happens to hold: its
    ``MCAsmInfo`` radix is not initialised, so ``mov eax, 20`` became ``mov eax, 0x20`` in
    some processes and not others (it changed with the length of the environment), and any
    KS_OPT_SYNTAX setting forces radix 16. Numbers with a prefix mean the same in every
    radix."""
    def hexed(match: re.Match) -> str:
        literal, digits = match.groups()
        if literal is not None:
            return literal
        if len(digits) > 1 and digits[0] == "0":
            if set(digits) & {"8", "9"}:
                return digits  # not octal: let Keystone say so
            return hex(int(digits, 8))
        return hex(int(digits))
    return _NUMBER.sub(hexed, source)


def _ks_asm(source: str, base: int, resolver=None, bits: int = 32) -> tuple[bytes, str]:
    """Assemble (32-bit code, or 64-bit); return (bytes, diagnostics) or raise KsError
    (with .diagnostics)."""
    from keystone import KS_ARCH_X86, KS_MODE_32, KS_MODE_64, Ks, KsError

    source = _radix_free(source)
    ks = _keystone(bits)
    if resolver is not None:
        ks = Ks(KS_ARCH_X86, KS_MODE_64 if bits == 64 else KS_MODE_32)
        ks.sym_resolver = resolver
    with _captured_stderr() as box:
        try:
            encoding, _count = ks.asm(source, base)
        except KsError as error:
            failure = error
        else:
            failure = None
    if failure is not None:
        failure.diagnostics = box["text"]
        raise failure
    return bytes(encoding or b""), box["text"]


def _ks_message(error) -> str:
    diagnostics = [line.split("error:", 1)[1].strip()
                   for line in getattr(error, "diagnostics", "").splitlines() if "error:" in line]
    if diagnostics:
        return diagnostics[0]
    text = str(error)
    return re.sub(r"\s*\(KS_ERR_\w+\)", "", text).strip().lower() or "assembly failed"


def _emits(lines: list[_Line]) -> bool:
    """Whether these lines should produce bytes (anything but labels and assignments)."""
    return any(not re.match(r"^\s*([\w.$]+:\s*)*$|^\s*[\w.$]+\s*=", line.text)
               for line in lines)


def _locate(lines: list[_Line], base: int, error, bits: int = 32) -> AssemblyError:
    """Turn a Keystone failure on the whole source into an error naming the source line."""
    from keystone import KsError

    asked: list[str] = []

    def any_symbol(name, value):
        asked.append(name.decode(errors="replace"))
        value[0] = base
        return True

    def fails(count: int) -> bool:
        source = "\n".join(line.text for line in lines[:count])
        try:
            blob, _ = _ks_asm(source, base, any_symbol, bits)
        except KsError:
            return True
        return not blob and _emits(lines[:count])

    if not fails(len(lines)):
        if asked:  # it only failed for want of these symbols
            name = asked[0]
            pattern = re.compile(rf"(?<![\w.$]){re.escape(name)}(?![\w.$])")
            for line in lines:
                if pattern.search(line.text):
                    return AssemblyError(f"undefined symbol {name!r}", line.path, line.number,
                                         line.original)
            return AssemblyError(f"undefined symbol {name!r}")
        return AssemblyError(_ks_message(error))
    low, high = 1, len(lines)  # smallest prefix that fails
    while low < high:
        mid = (low + high) // 2
        if fails(mid):
            high = mid
        else:
            low = mid + 1
    bad = lines[low - 1]
    try:
        _ks_asm("\n".join(line.text for line in lines[:low]), base, any_symbol, bits)
        message = _ks_message(error) if isinstance(error, KsError) else str(error)
    except KsError as again:
        message = _ks_message(again)
    return AssemblyError(message, bad.path, bad.number, bad.original)


def source_bits(source: str) -> int:
    """64 for a source that says ``bits 64`` (``[bits 64]``, ``.code64``) on a line of its
    own, else 32."""
    return 64 if _BITS64_RE.search(source) else 32


def assemble(source: str, base: int = DEFAULT_BASE, path: str | None = None,
             include_dirs=(), bits: int = 32) -> Image:
    """Assemble ``source`` (text) into an Image with text at ``base`` and data after it
    (32-bit code, or 64-bit with ``bits=64``)."""
    from keystone import KsError

    dirs = tuple(Path(d) for d in include_dirs)
    folder = Path(path).parent if path else None
    text, data = preprocess(_lines_of(source, path, folder, dirs, 0))
    if not text and not data:
        raise AssemblyError("no instructions", path)
    entry = "_start" if _START_RE.search("\n".join(line.text for line in text + data)) else \
        "__zeros_text"
    glue = [_Line(t, None, None, None) for t in ("__zeros_text:",)]
    tail = [_Line(t, None, None, None) for t in (
        "__zeros_text_end:", ".align 4096", "__zeros_data:")]
    word = ".quad" if bits == 64 else ".long"
    trailer = [_Line(t, None, None, None) for t in (
        "__zeros_data_end:", f"{word} __zeros_text_end", f"{word} __zeros_data",
        f"{word} __zeros_data_end", f"{word} {entry}")]
    lines = glue + text + tail + data + trailer
    size = 32 if bits == 64 else 16
    try:
        blob, _ = _ks_asm("\n".join(line.text for line in lines), base, bits=bits)
        if len(blob) < size:  # Keystone gave up without saying why
            raise _Silent()
    except (KsError, _Silent) as error:
        located = _locate(lines, base, error, bits)
        raise AssemblyError(located.reason, located.path or path, located.line,
                            located.text) from None
    text_end, data_start, data_end, entry_va = struct.unpack_from(
        "<4Q" if bits == 64 else "<4I", blob, len(blob) - size)
    segments = [Segment(base, blob[:text_end - base], text_end - base, read=True,
                        execute=True, name="text")]
    if data_end > data_start:
        segments.append(Segment(data_start, blob[data_start - base:data_end - base],
                                data_end - data_start, read=True, write=True, name="data"))
    if text_end == base:
        segments.pop(0)
    if data_start % PAGE_SIZE:
        raise AssemblyError("internal: data did not start on a page boundary", path)
    return Image(entry_va, tuple(segments), "asm", path or "<source>", bits=bits)


def assemble_symbols(source: str, base: int, names: list[str],
                     bits: int = 32) -> tuple[bytes, dict[str, int]]:
    """Machine code for ``source`` at ``base`` (32-bit, or 64-bit code), and the address of
    each label in ``names`` (code only: no sections, no includes)."""
    from keystone import KsError

    trailer = "\n" + "\n".join(f".long {name}" for name in names)
    lines = [_Line(t, None, None, None) for t in (source + trailer).splitlines()]
    text, data = preprocess(lines)
    if data:
        raise AssemblyError("assemble_symbols takes code only")
    try:
        blob, _ = _ks_asm("\n".join(line.text for line in text), base, bits=bits)
    except KsError as error:
        raise _locate(text, base, error, bits) from None
    size = len(blob) - 4 * len(names)
    addresses = struct.unpack_from(f"<{len(names)}I", blob, size)
    return blob[:size], dict(zip(names, addresses, strict=True))

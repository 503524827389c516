"""The exported runtime's matrix-vector product as a WebAssembly module with SIMD: its
source is the text `matvec.wat` beside this file (read it for what the kernel computes
and how), assembled here into the module's bytes, so no toolchain is needed to build
or check it.

A JavaScript loop reads one float at a time; f32x4 SIMD reads four, and four rows at
once share each load of the vector, so a step costs about what reading its weights
costs. `runtime.js` falls back to a plain loop where an engine has no WebAssembly SIMD.

The assembler reads the part of WebAssembly's text format that matvec.wat uses: a
module of imported memories and exported functions; parameters and locals by name;
instructions in folded form, `(name immediates... operands...)`, with `if`/`then`/
`else` and named `block`/`loop` labels. An instruction it does not know is an error
that names it: to use one more, add its opcode to `INSTRUCTIONS` from
https://webassembly.github.io/spec/core/binary/instructions.html.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from itertools import groupby

TYPES = {"i32": 0x7F, "f32": 0x7D, "v128": 0x7B}
SIMD = 0xFD  # the prefix of every SIMD instruction; its number follows as a LEB128
ELSE, END, VOID = 0x05, 0x0B, 0x40

# name: (opcode, its immediate). "memarg N": alignment 2^N (the natural one), offset 0
INSTRUCTIONS: dict[str, tuple[int | tuple[int, int], str | None]] = {
    "block": (0x02, "label"), "loop": (0x03, "label"), "if": (0x04, "label"),
    "br_if": (0x0D, "depth"),
    "local.get": (0x20, "local"), "local.set": (0x21, "local"), "local.tee": (0x22, "local"),
    "f32.load": (0x2A, "memarg 2"), "f32.store": (0x38, "memarg 2"),
    "i32.const": (0x41, "i32"),
    "i32.lt_u": (0x49, None), "i32.add": (0x6A, None), "i32.mul": (0x6C, None),
    "i32.shl": (0x74, None), "f32.add": (0x92, None),
    "v128.load": ((SIMD, 0x00), "memarg 4"), "v128.const": ((SIMD, 0x0C), "i32x4"),
    "f32x4.extract_lane": ((SIMD, 0x1F), "lane"),
    "f32x4.add": ((SIMD, 0xE4), None), "f32x4.mul": ((SIMD, 0xE6), None),
}


@cache
def module_bytes() -> bytes:
    """The module: matvec.wat, assembled."""
    return assemble(resources.files("charrnn.export").joinpath("matvec.wat").read_text("utf-8"))


def assemble(text: str) -> bytes:
    """A module in the text format (the part of it described in the module doc) as the
    bytes of a WebAssembly module."""
    module = parse(text)
    if module[0] != "module":
        raise ValueError("a .wat text must be one (module ...)")
    types, imports, functions, exports, bodies = [], [], [], [], []
    for field in module[1:]:
        if field[0] == "import":
            imports.append(_memory_import(field))
        elif field[0] == "func":
            signature, export, body = _function(field)
            if signature not in types:
                types.append(signature)
            functions.append(uleb(types.index(signature)))
            if export:
                exports.append(_name(export) + bytes([0x00]) + uleb(len(bodies)))
            bodies.append(uleb(len(body)) + body)
        else:
            raise ValueError(f"({field[0]} ...) is not assembled here")
    sections = [(1, types), (2, imports), (3, functions), (7, exports), (10, bodies)]
    return b"\0asm" + (1).to_bytes(4, "little") + b"".join(
        _section(kind, items) for kind, items in sections if items)


def parse(text: str) -> list:
    """The text's one parenthesised expression as nested lists of words (`;;` comments
    dropped)."""
    words = re.findall(r'\(|\)|"[^"]*"|[^\s()]+', re.sub(r";;[^\n]*", "", text))
    open_lists: list[list] = [[]]
    for word in words:
        if word == "(":
            open_lists.append([])
        elif word == ")" and len(open_lists) > 1:
            done = open_lists.pop()
            open_lists[-1].append(done)
        elif word == ")":
            raise ValueError("a ')' closes nothing")
        else:
            open_lists[-1].append(word)
    if len(open_lists) != 1 or len(open_lists[0]) != 1:
        raise ValueError("a .wat text must be one expression with its parentheses closed")
    return open_lists[0][0]


def _memory_import(field: list) -> bytes:
    """(import "module" "name" (memory MIN))"""
    _, module, name, (kind, minimum) = field
    if kind != "memory":
        raise ValueError(f"only memories are imported here, not a {kind}")
    return _name(module) + _name(name) + bytes([0x02, 0x00]) + uleb(int(minimum))


def _function(field: list) -> tuple[bytes, str | None, bytes]:
    """(func (export "name")? (param $p type)... (local $l type)... instructions...) ->
    (its type, its export name, its body)."""
    names: dict[str, int] = {}
    params, local_types, export, body = [], [], None, []
    for item in field[1:]:
        head = item[0] if isinstance(item, list) else "name"
        if head == "export":
            export = item[1]
        elif head in ("param", "local"):
            _, name, kind = item  # one named parameter or local in each parenthesis
            names[name] = len(names)
            (params if head == "param" else local_types).append(TYPES[kind])
        elif head != "name":  # a function's own $name is not needed: it is exported
            body.append(item)
    signature = bytes([0x60]) + uleb(len(params)) + bytes(params) + uleb(0)
    runs = [(len(list(run)), kind) for kind, run in groupby(local_types)]
    locals_ = uleb(len(runs)) + b"".join(uleb(count) + bytes([kind]) for count, kind in runs)
    code = _Code(names)
    for item in body:
        code.emit(item)
    return signature, export, locals_ + bytes(code.out) + bytes([END])


class _Code:
    """A function's instructions, folded expressions written out operands first."""

    def __init__(self, names: dict[str, int]):
        self.names, self.labels, self.out = names, [], bytearray()

    def emit(self, expression: list) -> None:
        name, *rest = expression
        label = rest.pop(0) if rest and isinstance(rest[0], str) and name in (
            "block", "loop", "if") else None
        if name == "if":  # (if condition... (then ...) (else ...)?)
            clauses = {part[0]: part[1:] for part in rest if part[0] in ("then", "else")}
            for part in rest:
                if part[0] not in ("then", "else"):
                    self.emit(part)
            self._structured(name, label, clauses.get("then", []))
            if "else" in clauses:
                self.out.append(ELSE)
                self._body(clauses["else"])
            self._close()
        elif name in ("block", "loop"):
            self._structured(name, label, rest)
            self._close()
        else:
            for operand in rest:
                if isinstance(operand, list):
                    self.emit(operand)
            self._instruction(name, [word for word in rest if isinstance(word, str)])

    def _structured(self, name: str, label: str | None, body: list) -> None:
        self._opcode(name)
        self.out.append(VOID)  # no result
        self.labels.append(label)
        self._body(body)

    def _body(self, body: list) -> None:
        for item in body:
            self.emit(item)

    def _close(self) -> None:
        self.out.append(END)
        self.labels.pop()

    def _opcode(self, name: str) -> str | None:
        if name not in INSTRUCTIONS:
            raise ValueError(f"unknown instruction {name} (see INSTRUCTIONS in wasm_kernel.py)")
        opcode, immediate = INSTRUCTIONS[name]
        self.out += bytes([opcode]) if isinstance(opcode, int) else (
            bytes([opcode[0]]) + uleb(opcode[1]))
        return immediate

    def _instruction(self, name: str, words: list[str]) -> None:
        immediate = self._opcode(name)
        if immediate == "local":
            self.out += uleb(self.names[words[0]])
        elif immediate == "depth":  # a label's name, or a number: how many blocks out
            word = words[0]
            depth = word if word.isdigit() else self.labels[::-1].index(word)
            self.out += uleb(int(depth))
        elif immediate == "i32":
            self.out += sleb(int(words[0]))
        elif immediate and immediate.startswith("memarg"):
            self.out += uleb(int(immediate.split()[1])) + uleb(0)
        elif immediate == "lane":
            self.out.append(int(words[0]))
        elif immediate == "i32x4":  # v128.const i32x4 a b c d
            shape, *values = words
            if shape != "i32x4" or len(values) != 4:
                raise ValueError("v128.const is written here as i32x4 and four numbers")
            self.out += b"".join(int(v).to_bytes(4, "little", signed=True) for v in values)


def _section(kind: int, items: list[bytes]) -> bytes:
    payload = uleb(len(items)) + b"".join(items)
    return bytes([kind]) + uleb(len(payload)) + payload


def _name(quoted: str) -> bytes:
    raw = quoted.strip('"').encode()
    return uleb(len(raw)) + raw


def uleb(value: int) -> bytes:
    """An unsigned LEB128: seven bits a byte, low first, the top bit set on all but the last."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def sleb(value: int) -> bytes:
    """A signed LEB128 (two's complement, sign-extended from the last byte's bit 6)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)

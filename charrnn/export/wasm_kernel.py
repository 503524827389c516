"""The exported runtime's matrix-vector product as a WebAssembly module with SIMD,
assembled here byte by byte (no toolchain needed to build or check it).

A JavaScript loop reads one float at a time; f32x4 SIMD reads four, and four rows at
once share each load of the vector, so a step costs about what reading its weights
costs. The module imports its memory ("env", "memory") and exports

    matvec(W, x, y, bias, rows, cols)    y[r] = bias[r] + sum_c W[r, c] x[c]

with byte addresses, W row-major and rows and cols multiples of 4 (the runtime pads
them with zeros); bias 0 means none (the runtime never puts data at address 0). Each
row sums four lanes of partial products, then (l0 + l1) + (l2 + l3), in float32 as
torch's kernels do. `runtime.js` falls back to a plain loop where an engine has no
WebAssembly SIMD.
"""

from __future__ import annotations

I32, F32, V128 = 0x7F, 0x7D, 0x7B
# instructions (https://webassembly.github.io/spec/core/binary/instructions.html)
BLOCK, LOOP, IF, END, BR_IF = 0x02, 0x03, 0x04, 0x0B, 0x0D
LOCAL_GET, LOCAL_SET, LOCAL_TEE = 0x20, 0x21, 0x22
F32_LOAD, F32_STORE, I32_CONST = 0x2A, 0x38, 0x41
I32_LT_U, I32_ADD, I32_MUL, I32_SHL, F32_ADD = 0x49, 0x6A, 0x6C, 0x74, 0x92
SIMD = 0xFD
V128_LOAD, V128_CONST, F32X4_EXTRACT, F32X4_ADD, F32X4_MUL = 0x00, 0x0C, 0x1F, 0xE4, 0xE6
VOID = 0x40

# parameters, then locals: their indices
W, X, Y, BIAS, ROWS, COLS = range(6)
ROW_BYTES, R, C, XV, W1, W2, W3 = range(6, 13)
ACC = (13, 14, 15, 16)


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def _get(i: int) -> bytes:
    return bytes([LOCAL_GET]) + uleb(i)


def _set(i: int) -> bytes:
    return bytes([LOCAL_SET]) + uleb(i)


def _const(v: int) -> bytes:
    return bytes([I32_CONST]) + sleb(v)


def _simd(op: int, *tail: int) -> bytes:
    return bytes([SIMD]) + uleb(op) + bytes(tail)


def _v128_load(address: bytes) -> bytes:
    return address + _simd(V128_LOAD, 4, 0)  # align 2^4, offset 0


def _lane_sum(acc: int) -> bytes:
    """(l0 + l1) + (l2 + l3) of an f32x4 local, as one f32 on the stack."""
    lane = [_get(acc) + _simd(F32X4_EXTRACT, k) for k in range(4)]
    return lane[0] + lane[1] + bytes([F32_ADD]) + lane[2] + lane[3] + bytes([F32_ADD, F32_ADD])


def _store_row(k: int) -> bytes:
    """y[r + k] = sum of ACC[k] (+ bias[r + k])."""
    address = _get(R) + _const(k) + bytes([I32_ADD]) + _const(2) + bytes([I32_SHL])
    value = _lane_sum(ACC[k])
    with_bias = (_get(BIAS) + bytes([IF, VOID])
                 + _get(Y) + address + bytes([I32_ADD])
                 + value + _get(BIAS) + address + bytes([I32_ADD, F32_LOAD, 2, 0, F32_ADD])
                 + bytes([F32_STORE, 2, 0])
                 + bytes([0x05])  # else
                 + _get(Y) + address + bytes([I32_ADD]) + value + bytes([F32_STORE, 2, 0])
                 + bytes([END]))
    return with_bias


def _body() -> bytes:
    zero = _simd(V128_CONST, *([0] * 16))
    code = bytearray()
    code += _get(COLS) + _const(2) + bytes([I32_SHL]) + _set(ROW_BYTES)
    code += _const(0) + _set(R)
    code += bytes([LOOP, VOID])  # each 4 rows
    for acc in ACC:
        code += zero + _set(acc)
    code += _get(W) + _get(ROW_BYTES) + bytes([I32_ADD, LOCAL_TEE]) + uleb(W1)
    code += _get(ROW_BYTES) + bytes([I32_ADD, LOCAL_TEE]) + uleb(W2)
    code += _get(ROW_BYTES) + bytes([I32_ADD]) + _set(W3)
    code += _const(0) + _set(C)
    code += bytes([LOOP, VOID])  # each 4 columns
    code += _v128_load(_get(X) + _get(C) + bytes([I32_ADD])) + _set(XV)
    for acc, row in zip(ACC, (W, W1, W2, W3), strict=True):
        code += _get(acc)
        code += _v128_load(_get(row) + _get(C) + bytes([I32_ADD]))
        code += _get(XV) + _simd(F32X4_MUL) + _simd(F32X4_ADD) + _set(acc)
    code += _get(C) + _const(16) + bytes([I32_ADD, LOCAL_TEE]) + uleb(C)
    code += _get(ROW_BYTES) + bytes([I32_LT_U, BR_IF, 0, END])
    for k in range(4):
        code += _store_row(k)
    code += _get(W) + _get(ROW_BYTES) + _const(4) + bytes([I32_MUL, I32_ADD]) + _set(W)
    code += _get(R) + _const(4) + bytes([I32_ADD, LOCAL_TEE]) + uleb(R)
    code += _get(ROWS) + bytes([I32_LT_U, BR_IF, 0, END])
    code += bytes([END])
    # ROW_BYTES, R, C: i32; XV: v128; W1-W3: i32; ACC: 4 v128
    locals_ = (uleb(4) + uleb(3) + bytes([I32]) + uleb(1) + bytes([V128])
               + uleb(3) + bytes([I32]) + uleb(4) + bytes([V128]))
    body = locals_ + bytes(code)
    return uleb(len(body)) + body


def _section(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + uleb(len(payload)) + payload


def _name(text: str) -> bytes:
    raw = text.encode()
    return uleb(len(raw)) + raw


def module_bytes() -> bytes:
    """The module (see the module doc)."""
    func_type = bytes([0x60]) + uleb(6) + bytes([I32] * 6) + uleb(0)
    sections = [
        _section(1, uleb(1) + func_type),
        _section(2, uleb(1) + _name("env") + _name("memory") + bytes([0x02, 0x00]) + uleb(1)),
        _section(3, uleb(1) + uleb(0)),
        _section(7, uleb(1) + _name("matvec") + bytes([0x00]) + uleb(0)),
        _section(10, uleb(1) + _body()),
    ]
    return b"\0asm" + (1).to_bytes(4, "little") + b"".join(sections)

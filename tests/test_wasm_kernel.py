"""The exported runtime's WebAssembly kernel: the module charrnn ships, byte for byte."""

import hashlib

from charrnn.export.wasm_kernel import module_bytes

# sha256 of the module as wasm_kernel.py assembled it byte by byte before matvec.wat
SHIPPED = "2ddd5ae57605f43e4edfe5182ff2c7346ba82f56b2c5845efcbba1420836191b"


def test_the_module_is_the_one_charrnn_ships():
    found = module_bytes()
    assert found[:8] == b"\0asm\x01\0\0\0"  # WebAssembly, version 1
    assert len(found) == 696 and hashlib.sha256(found).hexdigest() == SHIPPED

"""The exported runtime's WebAssembly kernel: matvec.wat, its source, assembles to the
module charrnn ships, byte for byte, and ships with the package."""

import hashlib
from pathlib import Path

import pytest

from charrnn.export.wasm_kernel import assemble, module_bytes

ROOT = Path(__file__).resolve().parents[1]
# sha256 of the module as wasm_kernel.py assembled it byte by byte before matvec.wat
SHIPPED = "2ddd5ae57605f43e4edfe5182ff2c7346ba82f56b2c5845efcbba1420836191b"


def test_the_module_is_the_one_charrnn_ships():
    found = module_bytes()
    assert found[:8] == b"\0asm\x01\0\0\0"  # WebAssembly, version 1
    assert len(found) == 696 and hashlib.sha256(found).hexdigest() == SHIPPED


def test_the_listing_is_the_source_and_ships_with_the_package():
    listing = (ROOT / "charrnn" / "export" / "matvec.wat").read_text(encoding="utf-8")
    assert assemble(listing) == module_bytes()
    export_data = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                       if line.startswith('"charrnn.export"'))
    assert '"*.wat"' in export_data


def test_a_branch_names_its_loop_and_an_unknown_instruction_is_named():
    found = assemble('(module (func (block $out (loop $again (br_if $out (i32.const 1))))))')
    # block, loop (no result); i32.const 1; br_if one block out; end, end, end (function)
    assert found.endswith(bytes([0x02, 0x40, 0x03, 0x40, 0x41, 1, 0x0D, 1, 0x0B, 0x0B, 0x0B]))
    with pytest.raises(ValueError, match="unknown instruction nop"):
        assemble("(module (func (nop)))")

"""Just enough ELF reading to learn which shared libraries a library links against.

``readelf -d`` would do, but binutils is not always installed; the dynamic section is a
few structs away from the header, so it is read here directly (32/64-bit, either byte order).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ELF_MAGIC = b"\x7fELF"
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME = 0, 1, 5, 14


@dataclass(frozen=True)
class ElfLinkage:
    soname: str | None
    needed: tuple[str, ...]


@dataclass(frozen=True)
class _Layout:
    order: str
    word: str
    phdr: str
    dyn: str


_LAYOUTS = {
    1: lambda order: _Layout(order, "I", f"{order}IIIIIIII", f"{order}iI"),
    2: lambda order: _Layout(order, "Q", f"{order}IIQQQQQQ", f"{order}qQ"),
}


def _read(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("truncated ELF file")
    return data


def _segments(stream: BinaryIO, elf_class: int, layout: _Layout) -> list[tuple[int, int, int, int]]:
    """Program headers as (type, offset, vaddr, filesz), whatever the class."""
    if elf_class == 2:
        phoff, = struct.unpack(f"{layout.order}Q", _read(stream, 0x20, 8))
        phentsize, phnum = struct.unpack(f"{layout.order}HH", _read(stream, 0x36, 4))
    else:
        phoff, = struct.unpack(f"{layout.order}I", _read(stream, 0x1C, 4))
        phentsize, phnum = struct.unpack(f"{layout.order}HH", _read(stream, 0x2A, 4))
    segments: list[tuple[int, int, int, int]] = []
    size = struct.calcsize(layout.phdr)
    for index in range(phnum):
        raw = struct.unpack(layout.phdr, _read(stream, phoff + index * phentsize, size))
        if elf_class == 2:  # type, flags, offset, vaddr, paddr, filesz, memsz, align
            segments.append((raw[0], raw[2], raw[3], raw[5]))
        else:  # type, offset, vaddr, paddr, filesz, memsz, flags, align
            segments.append((raw[0], raw[1], raw[2], raw[4]))
    return segments


def _string(stream: BinaryIO, offset: int) -> str:
    stream.seek(offset)
    chunks = b""
    while b"\0" not in chunks:
        chunk = stream.read(256)
        if not chunk:
            break
        chunks += chunk
    return chunks.split(b"\0", 1)[0].decode("utf-8", "replace")


def read_elf_linkage(path: Path) -> ElfLinkage | None:
    """SONAME and DT_NEEDED entries of an ELF file; ``None`` if it is not ELF or not dynamic."""
    with path.open("rb") as stream:
        ident = stream.read(16)
        if len(ident) < 16 or ident[:4] != ELF_MAGIC or ident[4] not in _LAYOUTS:
            return None
        order = "<" if ident[5] == 1 else ">"
        layout = _LAYOUTS[ident[4]](order)
        try:
            segments = _segments(stream, ident[4], layout)
            dynamic = [s for s in segments if s[0] == PT_DYNAMIC]
            if not dynamic:
                return None
            _, dyn_offset, _, dyn_size = dynamic[0]
            entry_size = struct.calcsize(layout.dyn)
            tags: list[tuple[int, int]] = []
            for start in range(dyn_offset, dyn_offset + dyn_size, entry_size):
                tag, value = struct.unpack(layout.dyn, _read(stream, start, entry_size))
                if tag == DT_NULL:
                    break
                tags.append((tag, value))
            strtab_vaddr = next((v for t, v in tags if t == DT_STRTAB), None)
            if strtab_vaddr is None:
                return None
            strtab = _vaddr_to_offset(segments, strtab_vaddr)
            needed = tuple(_string(stream, strtab + v) for t, v in tags if t == DT_NEEDED)
            soname = next((_string(stream, strtab + v) for t, v in tags if t == DT_SONAME), None)
        except (ValueError, struct.error):
            return None
    return ElfLinkage(soname=soname, needed=needed)


def _vaddr_to_offset(segments: list[tuple[int, int, int, int]], vaddr: int) -> int:
    for kind, offset, start, size in segments:
        if kind == PT_LOAD and start <= vaddr < start + size:
            return vaddr - start + offset
    raise ValueError("string table outside every loadable segment")

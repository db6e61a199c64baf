#!/usr/bin/env python3
"""fatbin_info.py: list what a .fatbin holds (kind, architecture, compression) without cuobjdump,
and, for entries that are not compressed, the kernel names (ELF symbols / PTX .entry lines).

    python3 cuda/test/fatbin_info.py build/lib/fusedloss.fatbin [--names]

Layout (the public fatbinary container, as fatbinary_section.h / cuobjdump read it): a 16-byte
header (magic 0xBA55ED50, version, header size, payload size), then entries, each with its own
header: kind (1 PTX, 2 ELF), header size, payload size, ..., version, sm arch, flags.

It also prints what each entry asks of the driver: a PTX entry's ISA version (its `.version`
line; the driver JIT-compiles it only if it knows that ISA, i.e. if it is at least as new as the
CUDA release of that ISA), and an ELF entry's OS/ABI bytes (nvcc 13 writes ELF OS/ABI 0x41,
ABI version 8).
"""
import re
import shutil
import struct
import subprocess
import sys

MAGIC = 0xBA55ED50
COMPRESSED = 0x2000       # LZ4 (not decoded here)
ZSTD = 0x8000             # zstd: decoded with the zstd command when it is installed


def entries(blob):
    off = 0
    while off + 16 <= len(blob):
        magic, _ver, hsize, fsize = struct.unpack_from("<IHHQ", blob, off)
        if magic != MAGIC:
            break
        pos, end = off + hsize, off + hsize + fsize
        while pos < end:
            kind, _u, ehsize, size = struct.unpack_from("<HHIQ", blob, pos)
            _csize, _u2, minor, major, arch = struct.unpack_from("<IIHHI", blob, pos + 16)
            flags = struct.unpack_from("<Q", blob, pos + 40)[0] if ehsize >= 48 else 0
            payload = blob[pos + ehsize: pos + ehsize + size]
            yield kind, arch, (major, minor), flags, payload
            pos += ehsize + size
        off = end


# PTX ISA version -> the CUDA release that introduced it (its driver is the oldest to JIT it)
PTX_ISA_CUDA = {"7.0": "11.0", "7.8": "11.8", "8.0": "12.0", "8.1": "12.1", "8.2": "12.2", "8.3": "12.3",
                "8.4": "12.4", "8.5": "12.5", "8.7": "12.8", "8.8": "12.9", "9.0": "13.0"}


def ptx_isa(text):
    m = re.search(rb"^\.version\s+(\d+\.\d+)", text, re.M)
    return m.group(1).decode() if m else None


def elf_symbols(elf):
    """Function symbols (STT_FUNC) of a 64-bit little-endian ELF."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    names = []
    for s in secs:
        if s[1] == 2:  # SHT_SYMTAB
            strtab = secs[s[6]]
            for j in range(s[5] // 24):
                st_name, st_info = struct.unpack_from("<IB", elf, s[4] + j * 24)
                if st_info & 0xF == 2:
                    raw = elf[strtab[4] + st_name:]
                    names.append(raw[:raw.index(b"\0")].decode())
    return names


def main():
    path = sys.argv[1]
    blob = open(path, "rb").read()
    print(f"{path}: {len(blob)} bytes")
    for kind, arch, ver, flags, payload in entries(blob):
        kname = {1: "PTX", 2: "ELF"}.get(kind, f"kind{kind}")
        comp = "lz4" if flags & COMPRESSED else ("zstd" if flags & ZSTD else "plain")
        print(f"  {kname:4s} sm_{arch:<4d} {len(payload):9d} bytes {comp}")
        if flags & ZSTD and shutil.which("zstd"):
            payload = subprocess.run(["zstd", "-dc"], input=payload, capture_output=True).stdout
            flags &= ~ZSTD
        if kind == 1 and not flags & (COMPRESSED | ZSTD):
            isa = ptx_isa(payload)
            print(f"       PTX ISA {isa}: JIT needs a driver for CUDA {PTX_ISA_CUDA.get(isa, '?')} or newer")
        if kind == 2 and payload[:4] == b"\x7fELF":
            print(f"       ELF OS/ABI 0x{payload[7]:02x}, ABI version {payload[8]}")
        if "--names" in sys.argv and not flags & (COMPRESSED | ZSTD):
            if kind == 2:
                names = sorted(n for n in elf_symbols(payload) if not n.startswith("__"))
            else:
                names = sorted(set(re.findall(rb"\.entry\s+(\w+)", payload)))
                names = [n.decode() for n in names]
            for n in names:
                print(f"       {n}")


if __name__ == "__main__":
    main()

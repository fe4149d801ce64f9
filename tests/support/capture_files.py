"""Reading what tests write and tcpsleuth writes, with nothing but struct: classic pcap
records, pcapng enhanced packet blocks (with their comments), and the TCP endpoints of an
Ethernet frame. Little-endian files, as tcpsleuth-gen and tcpsleuth's pcapng writer make
them on this machine."""

import struct


def pcap_records(path):
    """(file header, [each record's bytes, its 16-byte header included]) of a little-endian
    classic pcap: a capture to feed a pipe in parts, or to splice records into."""
    with open(path, "rb") as f:
        data = f.read()
    records, pos = [], 24
    while pos + 16 <= len(data):
        cap = struct.unpack_from("<I", data, pos + 8)[0]
        records.append(data[pos:pos + 16 + cap])
        pos += 16 + cap
    return data[:24], records


def pcap_frames(path, with_time=False):
    """(frame, original length) of each record of a little-endian classic pcap (us or ns).
    `with_time`: (frame, timestamp in seconds) instead."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), path
    unit = 1e-6 if magic == 0xa1b2c3d4 else 1e-9
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, cap, wire = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + cap]
        out.append((frame, sec + frac * unit) if with_time else (frame, wire))
        pos += 16 + cap
    return out


def pcapng_packets(path, with_time=False):
    """(frame, original length, comment) of each enhanced packet block of a little-endian
    pcapng; comment "" when the packet has none. `with_time`: the timestamp in nanoseconds
    (tcpsleuth writes nanosecond interfaces) comes first in each tuple."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos + 12 <= len(data):
        btype, total = struct.unpack("<II", data[pos:pos + 8])
        if btype == 6:
            cap, wire = struct.unpack("<II", data[pos + 20:pos + 28])
            frame = data[pos + 28:pos + 28 + cap]
            opt, comment = pos + 28 + ((cap + 3) & ~3), ""
            while opt + 4 <= pos + total - 4:
                code, length = struct.unpack("<HH", data[opt:opt + 4])
                if code == 0:
                    break
                if code == 1:
                    comment = data[opt + 4:opt + 4 + length].decode()
                opt += 4 + ((length + 3) & ~3)
            hi, lo = struct.unpack("<II", data[pos + 12:pos + 20])
            out.append(((hi << 32 | lo), frame, wire, comment) if with_time else (frame, wire, comment))
        pos += total
    return out


def tcp_of(frame):
    """(src, sport, dst, dport, flags) of an Ethernet/VLAN IPv4 or IPv6 TCP frame, addresses
    as packed bytes; None for anything else."""
    et, pos = struct.unpack("!H", frame[12:14])[0], 14
    while et in (0x8100, 0x88a8):
        et, pos = struct.unpack("!H", frame[pos + 2:pos + 4])[0], pos + 4
    if et == 0x0800 and frame[pos + 9] == 6:
        src, dst, tcp = frame[pos + 12:pos + 16], frame[pos + 16:pos + 20], pos + (frame[pos] & 15) * 4
    elif et == 0x86dd and frame[pos + 6] == 6:
        src, dst, tcp = frame[pos + 8:pos + 24], frame[pos + 24:pos + 40], pos + 40
    else:
        return None
    sport, dport = struct.unpack("!HH", frame[tcp:tcp + 4])
    return src, sport, dst, dport, frame[tcp + 13]

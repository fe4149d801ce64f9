"""Crafts TCP conversations and writes them as pcap / pcapng, with nothing but the standard
library (no scapy), so the captures the tests use are made independently of the C++ code
they test.

A Conn keeps both sides' sequence numbers, so a case script reads like the conversation:

    c = Conn(cap, "198.18.1.2", 40000, "198.18.2.2", 80)
    c.handshake(t=0.0)
    c.data("client", 1000, t=0.02)
    c.ack("server", t=0.03)
    cap.write("input.pcap")
"""

import ipaddress
import struct

SYN, FIN, RST, PSH, ACK, ECE, CWR = 0x02, 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def opt_mss(v):
    return struct.pack("!BBH", 2, 4, v)


def opt_ws(v):
    return struct.pack("!BBB", 3, 3, v)


def opt_sackok():
    return b"\x04\x02"


def opt_ts(val, ecr):
    return struct.pack("!BBII", 8, 10, val, ecr)


def opt_sack(blocks):
    return struct.pack("!BB", 5, 2 + 8 * len(blocks)) + b"".join(struct.pack("!II", l, r) for l, r in blocks)


NOP = b"\x01"
LINUX_SYN_OPTS = lambda mss=1460, ws=7, ts=1: opt_mss(mss) + opt_sackok() + opt_ts(ts, 0) + NOP + opt_ws(ws)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, window=65535, opts=b"", payload=b"",
                ttl=64, ip_id=0, tos=0, vlans=(), ethernet=True):
    """One frame. `src`/`dst` are address strings (IPv4 or IPv6)."""
    while len(opts) % 4:
        opts += b"\0"
    a_src, a_dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (20 + len(opts)) // 4 << 4, flags, window, 0, 0) + opts + payload
    if a_src.version == 4:
        pseudo = a_src.packed + a_dst.packed + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp)) + tcp[18:]
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(tcp), ip_id, 0x4000, ttl, 6, 0,
                          a_src.packed, a_dst.packed)
        ip = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:] + tcp
        ethertype = 0x0800
    else:
        pseudo = a_src.packed + a_dst.packed + struct.pack("!I3xB", len(tcp), 6)
        tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!IHBB16s16s", 0x60000000 | (tos << 20), len(tcp), 6, ttl,
                         a_src.packed, a_dst.packed) + tcp
        ethertype = 0x86DD
    if not ethernet:
        return ip
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01"
    for vid in vlans:
        eth += struct.pack("!HH", 0x8100, vid)
    return eth + struct.pack("!H", ethertype) + ip


class Capture:
    """Frames with timestamps (seconds, float), in the order added."""

    def __init__(self, start=1_763_700_000):
        self.start = start  # whole seconds; offsets are added in integer nanoseconds
        self.frames = []  # (ts_ns, bytes)

    def add(self, t, frame):
        self.frames.append((self.start * 1_000_000_000 + int(round(t * 1e9)), frame))
        return len(self.frames)  # 1-based packet number

    def write(self, path, linktype=LINKTYPE_ETHERNET, nano=False, snaplen=65535, big_endian=False):
        e = ">" if big_endian else "<"
        with open(path, "wb") as f:
            f.write(struct.pack(e + "IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
            for ts, frame in self.frames:
                cap = frame[:snaplen]
                frac = ts % 1_000_000_000 if nano else (ts % 1_000_000_000) // 1000
                f.write(struct.pack(e + "IIII", ts // 1_000_000_000, frac, len(cap), len(frame)) + cap)

    def write_pcapng(self, path, linktype=LINKTYPE_ETHERNET, tsresol=6):
        def block(btype, body):
            body += b"\0" * (-len(body) % 4)
            n = 12 + len(body)
            return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

        out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)  # if_tsresol, end
        out += block(1, struct.pack("<HHI", linktype, 0, 0) + opts)
        for ts, frame in self.frames:
            units = ts // (1000 if tsresol == 6 else 1)
            out += block(6, struct.pack("<IIIII", 0, units >> 32, units & 0xFFFFFFFF, len(frame), len(frame)) + frame)
        with open(path, "wb") as f:
            f.write(out)


class Conn:
    """One TCP connection: tracks both sides' next sequence number and acknowledgement."""

    def __init__(self, cap, client, cport, server, sport, cisn=1000, sisn=5000, vlans=(),
                 client_ttl=64, server_ttl=58):
        self.cap = cap
        self.ep = {"client": (client, cport, client_ttl), "server": (server, sport, server_ttl)}
        self.nxt = {"client": cisn, "server": sisn}
        self.isn = {"client": cisn, "server": sisn}
        self.ip_id = {"client": 100, "server": 2000}
        self.win = {"client": 502, "server": 509}
        self.ts = {"client": 1000, "server": 9000}
        self.last_tsval = {"client": 0, "server": 0}
        self.ts_on = False  # both SYNs carried timestamps: every later segment must too (RFC 7323 3.2)
        self.vlans = vlans

    @staticmethod
    def other(side):
        return "server" if side == "client" else "client"

    def send(self, side, t, flags, payload=b"", seq=None, window=None, opts=b"", consume=True, tos=0):
        src, sport, ttl = self.ep[side]
        dst, dport, _ = self.ep[self.other(side)]
        s = self.nxt[side] if seq is None else seq
        ack = self.nxt[self.other(side)] if flags & ACK else 0
        if self.ts_on and not flags & (SYN | RST) and b"\x08\x0a" not in opts:
            tsval = self.ts[side] + int(t * 1000)
            opts = NOP + NOP + opt_ts(tsval, self.last_tsval[self.other(side)]) + opts
            self.last_tsval[side] = tsval
        self.ip_id[side] += 1
        frame = tcp_segment(src, dst, sport, dport, s, ack, flags,
                            self.win[side] if window is None else window, opts, payload,
                            ttl=ttl, ip_id=self.ip_id[side] & 0xFFFF, tos=tos, vlans=self.vlans)
        if consume and seq is None:
            self.nxt[side] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return self.cap.add(t, frame)

    def handshake(self, t, rtt=0.010, client_opts=None, server_opts=None):
        c = self.send("client", t, SYN, opts=LINUX_SYN_OPTS() if client_opts is None else client_opts)
        copts = LINUX_SYN_OPTS() if client_opts is None else client_opts
        sopts = LINUX_SYN_OPTS(ts=9000) if server_opts is None else server_opts
        s = self.send("server", t + rtt, SYN | ACK, opts=sopts)
        self.ts_on = _has_option(copts, 8) and _has_option(sopts, 8)
        a = self.send("client", t + rtt + 0.0002, ACK)
        return c, s, a

    def data(self, side, n, t, mss=1448):
        """`n` bytes from `side` in MSS-sized segments, 0.1 ms apart. Returns packet numbers."""
        nums = []
        while n > 0:
            k = min(n, mss)
            nums.append(self.send(side, t, ACK | PSH, b"d" * k))
            n -= k
            t += 0.0001
        return nums

    def ack(self, side, t, window=None):
        return self.send(side, t, ACK, window=window)

    def close(self, t, rtt=0.010):
        self.send("client", t, FIN | ACK)
        self.send("server", t + rtt, FIN | ACK)
        return self.send("client", t + rtt + 0.0002, ACK)


def _has_option(opts, kind):
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            return False
        if k == 1:
            i += 1
            continue
        if k == kind:
            return True
        i += max(2, opts[i + 1]) if i + 1 < len(opts) else len(opts)
    return False


def _relink(frame, linktype):
    """Re-encapsulates an untagged Ethernet frame for another link type."""
    ethertype, ip = frame[12:14], frame[14:]
    if linktype == LINKTYPE_RAW:
        return ip
    if linktype == LINKTYPE_LINUX_SLL:  # packet type, ARPHRD_ETHER, addr len, addr(8), protocol
        return struct.pack("!HHH8s", 0, 1, 6, frame[6:12]) + ethertype + ip
    if linktype == LINKTYPE_LINUX_SLL2:  # protocol, reserved, ifindex, ARPHRD, pkttype, addr len, addr(8)
        return ethertype + struct.pack("!HIHBB8s", 0, 2, 1, 0, 6, frame[6:12]) + ip
    return frame


FORMATS = ("pcap", "pcap-nano", "pcap-be", "pcapng", "pcapng-nano", "sll", "sll2", "raw")


def write_as(cap, path, fmt):
    """Writes `cap` in one of FORMATS; every format carries the same packets."""
    if fmt == "pcap":
        cap.write(path)
    elif fmt == "pcap-nano":
        cap.write(path, nano=True)
    elif fmt == "pcap-be":
        cap.write(path, big_endian=True)
    elif fmt == "pcapng":
        cap.write_pcapng(path, tsresol=6)
    elif fmt == "pcapng-nano":
        cap.write_pcapng(path, tsresol=9)
    else:
        lt = {"sll": LINKTYPE_LINUX_SLL, "sll2": LINKTYPE_LINUX_SLL2, "raw": LINKTYPE_RAW}[fmt]
        relinked = Capture(cap.start)
        relinked.frames = [(ts, _relink(f, lt)) for ts, f in cap.frames]
        relinked.write(path, linktype=lt)


def main(build):
    """Entry point for case scripts: make_pcap.py OUT.pcap [FORMAT]."""
    import sys
    out = sys.argv[1]
    fmt = sys.argv[2] if len(sys.argv) > 2 else "pcap"
    cap = Capture()
    build(cap)
    write_as(cap, out, fmt)

// The rules tcpsleuth ships. Two kinds:
// - identification: the first bytes a protocol puts on the wire, anchored at the start of
//   the stream. They tag the flow (every diagnosis then says "tls", "http", ...) and emit
//   no event of their own: a clean network stays quiet.
// - failure signals an application sends when the network under it failed: a proxy's
//   502/503/504, a TLS fatal alert, a database refusing the session. They emit
//   payload.match at warning severity.
// A [[rules]] entry with the same id replaces one; payload.disable_builtin drops one.

#include "rules.h"

namespace tcpsleuth {

namespace {

struct Builtin {
    const char* id;
    const char* pattern;
    RuleDirection direction;
    const char* tag;
    RuleSeverity severity;  // kInfo: identification only, no event
    const char* advice;
    bool caseless = false;
};

constexpr RuleDirection kClient = RuleDirection::kClient;
constexpr RuleDirection kServer = RuleDirection::kServer;
constexpr RuleDirection kBoth = RuleDirection::kBoth;
constexpr RuleSeverity kInfo = RuleSeverity::kInfo;
constexpr RuleSeverity kWarning = RuleSeverity::kWarning;

const Builtin kBuiltins[] = {
    // HTTP/1.x (RFC 9112 section 3: method SP request-target SP HTTP-version CRLF;
    // section 4: HTTP-version SP status-code SP [reason-phrase] CRLF).
    {"http.request", "^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE|PROPFIND) [^ \\r\\n]+ HTTP/1\\.[01]\\r?\\n",
     kClient, "http", kInfo, ""},
    {"http.response", "^HTTP/1\\.[01] [1-5][0-9][0-9][ \\r]", kServer, "http", kInfo, ""},
    // RFC 9113 section 3.4: the client connection preface.
    {"http2.preface", "^PRI \\* HTTP/2\\.0\\r\\n\\r\\nSM\\r\\n\\r\\n", kClient, "http2", kInfo, ""},
    // Any status line in the first bytes of the server's stream: not anchored, because a
    // keep-alive response follows the previous body directly, without a line break.
    {"http.status_502", "HTTP/1\\.[01] 502[ \\r]", kServer, "http", kWarning,
     "A proxy or load balancer could not get a valid answer from its backend: the backend connection was "
     "refused, reset or cut. Look at the proxy's backend connections for the TCP faults tcpsleuth names "
     "(resets after idle, MTU black holes, a full state table) and at the backend's health.",
},
    {"http.status_503", "HTTP/1\\.[01] 503[ \\r]", kServer, "http", kWarning,
     "The server, or a proxy in front of it, says the service is unavailable: overloaded, in maintenance, "
     "or without a healthy backend. Check backend health checks and connection limits; a proxy whose "
     "backend handshakes fail (handshake.syn_unanswered on its side) answers this way.",
},
    {"http.status_504", "HTTP/1\\.[01] 504[ \\r]", kServer, "http", kWarning,
     "A proxy or gateway gave up waiting for its backend. Look for stalls on the backend connection "
     "(window.zero_stall, mtu.blackhole, idle.timeout_drop) and compare the proxy's timeout with how long "
     "the backend takes to answer.",
},
    // TLS record header (RFC 8446 section 5.1): type, legacy version 3.x, length; then the
    // handshake type (1 ClientHello, 2 ServerHello).
    {"tls.client_hello", "^\\x16\\x03[\\x00-\\x04][\\x00-\\xff][\\x00-\\xff]\\x01", kClient, "tls", kInfo, ""},
    {"tls.server_hello", "^\\x16\\x03[\\x00-\\x04][\\x00-\\xff][\\x00-\\xff]\\x02", kServer, "tls", kInfo, ""},
    // A cleartext alert record: type 21, 2 bytes long, level 2 = fatal (RFC 8446 section 6);
    // the last byte is the description, decoded in the event.
    {"tls.alert_fatal", "\\x15\\x03[\\x00-\\x04]\\x00\\x02\\x02[\\x00-\\xff]", kBoth, "tls", kWarning,
     "A TLS endpoint aborted the handshake with a fatal alert (its description is in the evidence). Usually "
     "certificates (unknown CA, expired, wrong name) or versions and cipher suites that do not overlap; if "
     "it happens on one path only, suspect a TLS-inspecting device that rewrites the handshake."},
    // RFC 4253 section 4.2: the identification string.
    {"ssh.banner", "^SSH-[12]\\.[0-9]+-", kBoth, "ssh", kInfo, ""},
    // SMTP (RFC 5321 section 4.2) and FTP (RFC 959) greet with 220; the text names which.
    {"smtp.greeting", "^220[ -][^\\r\\n]*SMTP", kServer, "smtp", kInfo, "", true},
    {"smtp.hello", "^(EHLO|HELO) ", kClient, "smtp", kInfo, "", true},
    {"smtp.unavailable", "^(421|554)[ -]", kServer, "smtp", kWarning,
     "The mail server refused the session at the greeting (421 service not available, 554 no service): "
     "it is overloaded, rate-limiting this client, or shutting down. Check its connection limits and "
     "logs; a relay behind a full NAT table shows this from its peers' side."},
    {"ftp.greeting", "^220[ -][^\\r\\n]*FTP", kServer, "ftp", kInfo, "", true},
    // Redis RESP: a command is an array of bulk strings.
    {"redis.command", "^\\*[1-9][0-9]*\\r\\n\\$[0-9]+\\r\\n", kClient, "redis", kInfo, ""},
    // PostgreSQL: StartupMessage (length, protocol 3.0) or SSLRequest (code 80877103).
    {"postgresql.startup", "^([\\x00-\\xff]{4}\\x00\\x03\\x00\\x00|\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f)", kClient,
     "postgresql", kInfo, ""},
    // ErrorResponse ('E', length, then the 'S' severity field).
    {"postgresql.fatal", "E[\\x00-\\xff]{4}S(FATAL|PANIC)\\x00", kServer, "postgresql", kWarning,
     "The database ended the session with a FATAL error: too many connections, authentication failure, or a "
     "shutdown. Its message is in the server log; too many connections usually means pools sized past "
     "max_connections or connections leaked after network resets."},
    // MySQL initial handshake: 3-byte length, sequence 0, protocol version 10, version text.
    {"mysql.greeting", "^[\\x00-\\xff]{3}\\x00\\x0a[0-9]+\\.[0-9]+\\.[0-9]+", kServer, "mysql", kInfo, ""},
};

std::vector<RuleSpec> make_builtins() {
    std::vector<RuleSpec> out;
    for (const Builtin& b : kBuiltins) {
        RuleSpec r;
        r.id = b.id;
        r.pattern = b.pattern;
        r.caseless = b.caseless;
        // Identification needs the first match only; a failure signal is counted each time.
        r.single_match = b.severity == kInfo;
        r.direction = b.direction;
        r.severity = b.severity;
        r.tag = b.tag;
        r.event = b.severity != kInfo;
        r.advice = b.advice;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace

const std::vector<RuleSpec>& builtin_rules() {
    static const std::vector<RuleSpec> rules = make_builtins();
    return rules;
}

}  // namespace tcpsleuth

// swift-tools-version:6.0
// Veer: an authoritative DNS server for moving traffic between gateways by weight.
// No package dependencies: the toolchain and Glibc only (see README).
import PackageDescription

let package = Package(
    name: "Veer",
    products: [
        .executable(name: "veer", targets: ["veer"]),
    ],
    targets: [
        // recvmmsg/sendmmsg and SO_PEERCRED need _GNU_SOURCE, which only the .c files define;
        // https.c loads the system libcurl with dlopen for HTTPS health checks; uring.c drives
        // io_uring with raw system calls (no liburing).
        .target(name: "CPosix"),
        // The system's OpenSSL 3 (libcrypto, libssl), linked, behind plain C functions: DNSSEC
        // signatures (crypto.c) and TLS for the admin protocol (tls.c). Headers: libssl-dev.
        .target(name: "COpenSSL", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // Processor hints (prefetch) as inline C, for the name table.
        .target(name: "CHints"),
        // The only target that imports Glibc: sockets, fds, errno, signals, files; TLS
        // connections (the admin protocol over TLS) through COpenSSL.
        .target(name: "Posix", dependencies: ["CPosix", "COpenSSL"]),
        // Durations and percentages as operators write and read them, stdlib only.
        .target(name: "Units"),
        // DNS message model and wire codec: the stdlib, and a prefetch hint from CHints.
        .target(name: "DNSWire", dependencies: ["CHints"]),
        // RFC 1035 master files: lexer, parser, validation, diagnostics. Release builds skip
        // the run-time exclusivity checks, as in Authority: the reader's stored properties were
        // checked on every token of every record (about 2% of loading a million records).
        .target(name: "ZoneFile", dependencies: ["DNSWire", "Units"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Weighted selection, health and rollback state machines, the runtime weight store.
        .target(name: "Traffic", dependencies: ["DNSWire", "Units"]),
        // DNSSEC keys, DNSKEY/DS/RRSIG records and canonical RRsets, signed through COpenSSL.
        .target(name: "DNSSEC", dependencies: ["DNSWire", "COpenSSL", "Posix"]),
        // Zone snapshot and the pure answering function (query, snapshot, random) -> response.
        // Release builds skip the run-time exclusivity checks here: the per-thread Responder's
        // stored properties were checked on every access, about a third of the instructions
        // per query. Debug builds (and so every test) keep the checks.
        .target(name: "Authority", dependencies: ["DNSWire", "ZoneFile", "Traffic"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Wiring: UDP/TCP loops, admin socket, persistence, CLI.
        .target(name: "VeerServer", dependencies: ["DNSWire", "ZoneFile", "Traffic", "Authority", "Posix", "Units", "DNSSEC"]),
        .executableTarget(name: "veer", dependencies: ["VeerServer"]),

        // Test-only helpers (loopback HTTP/TCP servers, DNS and TCP clients, a TLS gateway,
        // temporary directories, a scripted random source): shared by the test targets, never
        // linked into the veer binary. Public API of Posix only, so release builds it too.
        .target(name: "TestSupport", dependencies: ["Posix", "CPosix", "Traffic"], path: "Tests/TestSupport"),

        .testTarget(name: "UnitsTests", dependencies: ["Units"]),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire", "TestSupport"]),
        .testTarget(name: "ZoneFileTests", dependencies: ["ZoneFile", "DNSWire"]),
        .testTarget(name: "PosixTests", dependencies: ["Posix", "TestSupport"]),
        .testTarget(name: "TrafficTests", dependencies: ["Traffic", "DNSWire", "Units", "TestSupport"]),
        .testTarget(name: "DNSSECTests", dependencies: ["DNSSEC", "DNSWire", "Posix", "TestSupport"]),
        .testTarget(name: "AuthorityTests", dependencies: ["Authority", "ZoneFile", "DNSWire", "Traffic", "TestSupport"]),
        .testTarget(name: "VeerServerTests", dependencies: ["VeerServer", "Traffic", "Authority", "ZoneFile", "Posix", "DNSWire", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["veer", "DNSWire", "Posix", "VeerServer", "TestSupport"]),
    ]
)

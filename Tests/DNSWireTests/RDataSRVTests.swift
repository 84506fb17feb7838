import DNSWire
import Testing

/// SRV RDATA: priority, weight, port, target, RFC 2782. The target is never compressed
/// (RFC 2782 "Target"; RFC 3597 §4 limits compression to the RFC 1035 types).
@Suite struct RDataSRVTests {
    @Test func knownBytesTargetUncompressed() {
        let owner = hex("04 5f736970 04 5f746370") + exampleCom   // _sip._tcp.example.com.
        expectRecord(
            ResourceRecord(name: name("_sip._tcp.example.com."), ttl: 3600,
                           data: .srv(priority: 10, weight: 20, port: 5060, target: name("sip.example.com."))),
            // `example.com.` is at offset 10 of the owner, yet the target is written in full.
            encodesTo: owner + hex("0021 0001 00000E10 0017 | 000A 0014 13C4 | 03 736970") + exampleCom,
            presentation: "_sip._tcp.example.com. 3600 IN SRV 10 20 5060 sip.example.com.")
    }

    @Test func truncatedBeforeTarget() {
        expectWireError(.truncated, at: 15, field: "SRV port") { () throws(WireError) in
            try decodeRecord(hex("00 0021 0001 00000000 0005 | 0001 0002 00"))
        }
    }
}

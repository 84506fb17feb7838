/// The zone every answering test queries. Each name is there for one behaviour; the comments
/// say which. The SOA minimum is 60, so negative answers carry TTL 60.
enum Fixture {
    /// How many TXT records `big` has: 60 × ~45 octets is over 512 and over 1232.
    static let bigCount = 60

    static let exampleCom: String = {
        var text = """
            $ORIGIN example.com.
            $TTL 3600
            @        IN SOA   ns1 hostmaster ( 2026112301 3600 600 604800 60 )
            @        IN NS    ns1
            @        IN NS    ns2
            ns1      IN A     192.0.2.53
            ns2      IN A     198.51.100.53
            www      IN A     192.0.2.10
            www      IN AAAA  2001:db8::10
            mail     IN A     192.0.2.25
            @        IN MX    10 mail
            @        IN TXT   "v=spf1 mx -all"
            ; a chain of two CNAMEs ending at www
            alias    IN CNAME alias2
            alias2   IN CNAME www
            ; a CNAME to a name the zone does not have: NXDOMAIN at the end of the chain
            dangling IN CNAME nowhere
            ; a CNAME that leaves Veer's zones
            ext      IN CNAME target.example.net.
            ; a delegation with glue
            sub      IN NS    ns.sub
            ns.sub   IN A     192.0.2.77
            ; b.c and c exist only as empty non-terminals
            a.b.c    IN A     192.0.2.30
            *.wild   IN A     192.0.2.99

            """
        for index in 0..<bigCount {
            text += "big IN TXT \"record \(index < 10 ? "0" : "")\(index) padding padding padding\"\n"
        }
        return text
    }()

    static let zones = ["example.com.zone": exampleCom]

    /// A server on 127.0.0.1 with the fixture zone.
    static func server(extraArguments: [String] = []) throws -> VeerProcess {
        try VeerProcess(zones: zones, extraArguments: extraArguments)
    }

    /// The SOA as it appears in negative answers (TTL = SOA minimum, RFC 2308).
    static let negativeSOA = "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 2026112301 3600 600 604800 60"
}

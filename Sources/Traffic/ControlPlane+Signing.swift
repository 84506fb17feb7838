/// DNSSEC signatures kept fresh (README "DNSSEC"): the edge signs zones where it loads them
/// and reports when the earliest signature is due (`.signed`); the clock's tick then asks for
/// a new signing (`.resign`), which the edge carries out off the control queue and reports
/// again. The plane only keeps the time and publishes the new signatures.
extension ControlPlane {
    /// Zone set `zones` was signed; due again at `refreshAtMs`. The set served gets a publish
    /// that carries its new signatures; a set not (yet) served only sets the time, as its
    /// reload's publish will carry them.
    mutating func signed(zones signedZones: Int, refreshAtMs: Int64) -> [Effect] {
        guard signedZones >= zones else { return [] }
        resignAtMs = refreshAtMs
        return signedZones == zones ? [published()] : []
    }

    /// On the clock: a `.resign` of the served zones once their signatures are due, once
    /// (the time is cleared until `.signed` sets the next one).
    mutating func resignDue(now: Moment) -> [Effect] {
        guard let due = resignAtMs, now.wall >= due else { return [] }
        resignAtMs = nil
        return [.resign(zones: zones), .log(.info, "dnssec: signatures due for renewal, signing zone set \(zones) again")]
    }
}

import DNSWire
import Synchronization
import Traffic

/// Gives each weighted endpoint (owner name, endpoint id) a permanent slot number for its
/// weight and served counter, so slots keep their meaning across reloads.
public final class SlotRegistry: Sendable {
    private let slots = Mutex<[EndpointKey: Int]>([:])

    public init() {}

    public func slot(owner: DomainName, endpoint: String) -> Int {
        let key = EndpointKey(name: NameKey(owner), id: endpoint)
        return slots.withLock { table in
            if let existing = table[key] { return existing }
            table[key] = table.count
            return table.count - 1
        }
    }
}

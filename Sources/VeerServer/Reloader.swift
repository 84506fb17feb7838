import Authority
import Posix
import Synchronization
import Traffic
import ZoneFile

/// `reload` and SIGHUP: reads the zones directory again and hands valid zones to the plane
/// by number; the plane saves what the reload changes and its publish says to adopt them.
/// On any error the served zones stay.
final class Reloader: Sendable {
    let directory: String
    let files: ZoneParser.Files
    let slots: SlotRegistry
    let zoneSets: ZoneSets
    let loop: ControlLoop
    let box: SnapshotBox
    /// `--keys`: zones with keys are signed as they are read (the keys read again too).
    let signing: ZoneSigning?
    /// With a shared store: each reload's zones are summarized for the cluster (`ZoneSummaries`).
    let summarize: Bool
    /// What else `reload` reads again (the control listener's certificates and CRL).
    private let alsoReloaded = Mutex<[@Sendable () -> [String]]>([])

    init(directory: String, files: ZoneParser.Files, slots: SlotRegistry, zoneSets: ZoneSets, loop: ControlLoop, box: SnapshotBox,
         signing: ZoneSigning? = nil, summarize: Bool = false) {
        self.signing = signing
        self.summarize = summarize
        self.directory = directory
        self.files = files
        self.slots = slots
        self.zoneSets = zoneSets
        self.loop = loop
        self.box = box
    }

    /// Adds `body` to what a reload does; it returns its errors, having kept what it had.
    func alsoReload(_ body: @escaping @Sendable () -> [String]) {
        alsoReloaded.withLock { $0.append(body) }
    }

    /// Re-reads the zones (and what `alsoReload` added); on any error keeps serving the old
    /// data and returns the errors.
    func reload() -> [String] {
        Server.notify(["RELOADING=1", ServiceNotify.monotonicMicroseconds])
        defer { Server.notify(["READY=1", Server.status(box)]) }
        let others = alsoReloaded.withLock { $0 }.flatMap { $0() }
        return reloadZones() + others
    }

    private func reloadZones() -> [String] {
        let (zones, errors) = ZoneParser.loadDirectory(directory, files: files)
        if !errors.isEmpty || zones.isEmpty {
            let lines = errors.isEmpty ? ["\(directory): no *.zone files to serve"] : errors.map(\.description)
            for line in lines { Log.error("reload: \(line)") }
            Log.error("reload: kept the data of generation \(box.generation)")
            return lines
        }
        let served: ServedZones
        do {
            served = try ServedZones(zones, slots: slots, signing: signing, summarize: summarize)
        } catch {
            Log.error("reload: dnssec: \(error)")
            Log.error("reload: kept the data of generation \(box.generation)")
            return ["dnssec: \(error)"]
        }
        let number = zoneSets.add(served)
        let reply = loop.send(.reload(served.config, zones: number)) ?? "error: no reply"
        guard reply.hasPrefix("ok") else {
            zoneSets.remove(number)
            Log.error("reload: \(reply); kept generation \(box.generation)")
            return [reply.hasPrefix("error: ") ? String(reply.dropFirst(7)) : reply]
        }
        if let refreshAt = served.refreshAt { loop.post(.signed(zones: number, refreshAtMs: ZoneSigning.milliseconds(refreshAt))) }
        return []
    }
}

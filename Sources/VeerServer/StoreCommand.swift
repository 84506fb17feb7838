import Posix
import Traffic

/// `veer store import|export`: moves the state and the audit log between a local state
/// directory and etcd, for the day a single server becomes several (and back).
enum StoreCommand {
    static let usage = "veer store import|export --state-dir DIR --store etcd=http[s]://HOST:PORT[,...] [--store-prefix /veer/] [--store-ca FILE] [--store-cert FILE --store-key FILE] [--store-user NAME --store-password-file FILE]"
    /// Audit lines per etcd request: etcd refuses transactions of more than 128 operations.
    static let batch = 100

    static func run(_ arguments: ArraySlice<String>) throws(UsageError) -> Int32 {
        let options = try OptionReader(arguments, valued: Set(["state-dir", "store", "store-prefix"]).union(EtcdAccess.options))
        guard options.positional.count == 1, let verb = options.positional.first, verb == "import" || verb == "export" else {
            throw UsageError("usage: \(usage)")
        }
        guard let directory = options.last("state-dir"), let store = options.last("store"), store.hasPrefix("etcd=") else {
            throw UsageError("\(verb) needs --state-dir DIR and --store etcd=URL; usage: \(usage)")
        }
        let prefix = options.last("store-prefix") ?? "/veer/"
        let access = try EtcdAccess(options)
        do {
            let local = try FileStateStore(directory: directory)
            let shared = EtcdStateStore(client: try EtcdClient(urls: String(store.dropFirst(5)), access: access), prefix: prefix, serverID: "import", local: local)
            print(verb == "import" ? try importing(local, into: shared) : try exporting(shared, into: local))
            return 0
        } catch let error as UsageError {
            throw error
        } catch {
            writeStderr("veer store \(verb): \(error)\n")
            return 1
        }
    }

    /// The local state and audit log into etcd, which must hold no state yet.
    static func importing(_ local: FileStateStore, into shared: EtcdStateStore) throws -> String {
        guard let state = try local.load() else { throw StoreError(.io, "\(local.path) does not exist: nothing to import") }
        if let existing = try shared.client.get(shared.stateKey) {
            throw StoreError(.conflict(stored: existing.modRevision),
                             "\(shared.location) already holds a state (revision \(existing.modRevision)); export it or use another --store-prefix")
        }
        let lines = try local.history(name: nil, limit: .max)
        for start in stride(from: 0, to: lines.count, by: batch) {
            for (offset, line) in lines[start..<min(lines.count, start + batch)].enumerated() {
                let number = String(start + offset)
                try shared.client.put(shared.prefix + "audit/" + String(repeating: "0", count: 20) + "-import-"
                                      + String(repeating: "0", count: max(0, 8 - number.count)) + number, value: Array(line.utf8))
            }
        }
        let document = try StateDocument.encode(state, pretty: false, lastChange: "veer store import")
        guard let revision = try shared.client.put([(shared.stateKey, document)], ifModRevisionOf: shared.stateKey, is: 0).revision else {
            throw StoreError(.conflict(stored: 0), "\(shared.location): a state appeared while importing; nothing imported over it")
        }
        return "ok imported \(local.path) and \(lines.count) audit line(s) into \(shared.location) at revision \(revision)"
    }

    /// etcd's state and audit log into an empty local state directory.
    static func exporting(_ shared: EtcdStateStore, into local: FileStateStore) throws -> String {
        guard try local.load() == nil else { throw StoreError(.io, "\(local.path) exists: export into an empty state directory") }
        guard let kv = try shared.client.get(shared.stateKey) else { throw StoreError(.io, "\(shared.location) holds no state to export") }
        let state = try StateDocument.decode(kv.value, from: "etcd \(shared.stateKey)", revision: kv.modRevision)
        let lines = try shared.client.list(prefix: shared.prefix + "audit/").map { String(decoding: $0.value, as: UTF8.self) }
        try local.replace(with: state)
        try FileIO.appendAndSync(Array(lines.map { $0 + "\n" }.joined().utf8), to: local.auditPath)
        return "ok exported \(shared.location) (revision \(kv.modRevision)) and \(lines.count) audit line(s) into \(local.directory)"
    }
}

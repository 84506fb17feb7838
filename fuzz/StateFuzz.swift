// libFuzzer target for the state decoder: the one every saved state goes through
// (`weights.json`, etcd's state key, `veer store import`). Built by fuzz/run.sh with
// Sources/VeerServer/StateDocument.swift and JSON.swift in one module, over the Traffic
// library, so it runs the server's own decoder and validation.
//
// Property: any bytes either throw a StoreError or decode to a state that passes
// validation, encodes, decodes back to the same state, and whose every name can be undone
// without trapping (an undo entry that does not fit is refused). Anything else traps, and
// libFuzzer saves the input.
import Traffic

/// libFuzzer's entry point: called once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    let state: PersistedState
    do {
        state = try StateDocument.decode(input, from: "fuzz", revision: nil)
    } catch {
        return 0
    }
    do { try state.validate() } catch { fatalError("decoded but not valid: \(error)") }
    for name in state.store.names { _ = try? state.store.undoing(name.name, at: 0) }

    let encoded: [UInt8]
    do { encoded = try StateDocument.encode(state, pretty: false) } catch { fatalError("re-encode failed: \(error)") }
    let again: PersistedState
    do { again = try StateDocument.decode(encoded, from: "fuzz", revision: nil) } catch {
        fatalError("re-decode failed: \(error)")
    }
    guard again == state else { fatalError("round trip changed the state:\n\(state)\n\(again)") }
    return 0
}

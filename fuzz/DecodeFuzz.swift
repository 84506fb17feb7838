// libFuzzer target for the DNSWire decoder. Built by fuzz/run.sh together with the DNSWire
// sources into one module, so it uses the codec's types without an import.
//
// Property: decoding any input either throws a WireError or yields a message that encodes and
// decodes back to an equal message. Anything else traps, and libFuzzer saves the input.

/// libFuzzer's entry point: called once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: start, count: count))
    guard let message = try? Message.decode(input) else { return 0 }

    let encoded: [UInt8]
    do {
        encoded = try message.encoded()
    } catch {
        // Names decompress on decode and SRV targets are re-encoded uncompressed, so an input
        // near 64 KiB can legitimately outgrow the largest message; nothing else may fail.
        if error.kind == .noSpace { return 0 }
        fatalError("re-encode failed: \(error)")
    }

    let again: Message
    do {
        again = try Message.decode(encoded)
    } catch {
        fatalError("re-decode failed: \(error)")
    }
    guard again == message else { fatalError("round trip changed the message:\n\(message)\n\(again)") }
    return 0
}

import Posix

extension Tools {
    /// `curl` from PATH. Never skipped: missing curl is a failure.
    static func curl() throws -> String {
        try onPath("curl") ?? { throw HarnessError("curl not found: apt-get install curl") }()
    }
}

/// The body of `GET http://ADDRESS/metrics`, fetched with the real curl as an operator would.
/// Throws with curl's own message when the connection fails or the status is not 2xx.
func scrapeWithCurl(_ address: SocketAddress, path: String = "/metrics") throws -> String {
    // --globoff: the brackets of an IPv6 literal are not a curl URL range.
    let arguments = ["--silent", "--show-error", "--fail", "--globoff", "--max-time", "5",
                     "http://\(address)\(path)"]
    let result = try runProgram(try Tools.curl(), arguments)
    guard result.status == 0, !result.timedOut else {
        throw HarnessError("curl \(arguments.joined(separator: " ")) exited with \(result.status): \(result.output)")
    }
    return result.output
}

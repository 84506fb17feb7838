import Foundation
import Posix
import Testing

extension Tools {
    /// Debian's `chromium`. Never skipped: a missing browser is a failure.
    static func chromium() throws -> String {
        try onPath("chromium") ?? { throw HarnessError("chromium not found: apt-get install chromium") }()
    }
}

/// The live page of the real binary, loaded in a real headless Chromium during a rollout, and
/// its JSON twin read with curl. Probes every 200 ms, bakes of 2 s (HealthTests.zone).
@Suite(.serialized)
struct LivePageTests {
    typealias Setup = HealthTests.Setup

    /// The package's `.build/`, where the screenshot is kept for people.
    static let buildDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build")

    /// Chromium's DOM of `url` after load (`--dump-dom`), with how long the browser took. A
    /// fresh profile each time, so concurrent runs do not share one. Chromium on a loaded
    /// 2-core machine can take many seconds to start: a generous deadline, and a second try
    /// when the first prints no document.
    static func renderedDOM(_ url: String) throws -> (dom: String, took: Duration) {
        var last = ""
        for _ in 0..<3 {
            let profile = try makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: profile) }
            let started = ContinuousClock.now
            let result = try runProgram(try Tools.chromium(), browserArguments(profile) + ["--dump-dom", url], timeout: .seconds(120))
            let took = ContinuousClock.now - started
            // Standard error is in the same pipe: the document is what lies between its tags.
            if let start = result.output.range(of: "<html"), let end = result.output.range(of: "</html>", options: .backwards) {
                return (String(result.output[start.lowerBound..<end.upperBound]), took)
            }
            last = "exit \(result.status)\(result.timedOut ? " (timed out)" : ""): \(result.output.suffix(2000))"
        }
        throw HarnessError("chromium printed no document for \(url): \(last)")
    }

    static func browserArguments(_ profile: URL) -> [String] {
        ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)"]
    }

    /// A screenshot of `url` at `size` into `path`; true when the file was written.
    static func screenshot(_ url: String, to path: URL, size: String) throws -> Bool {
        let profile = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: profile) }
        try? FileManager.default.removeItem(at: path)
        _ = try runProgram(try Tools.chromium(), browserArguments(profile) + ["--screenshot=\(path.path)", "--window-size=\(size)",
                                                                              "--hide-scrollbars", url], timeout: .seconds(120))
        return FileManager.default.fileExists(atPath: path.path)
    }

    /// `/api/names` as JSON objects.
    static func apiNames(_ address: SocketAddress) throws -> [String: Any] {
        let text = try scrapeWithCurl(address, path: "/api/names")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// The text of the first element whose opening tag contains `marker`, tags stripped.
    static func text(in dom: String, after marker: String, closing: String) -> String? {
        guard let start = dom.range(of: marker), let tagEnd = dom[start.upperBound...].range(of: ">"),
              let end = dom[tagEnd.upperBound...].range(of: closing) else { return nil }
        return String(dom[tagEnd.upperBound..<end.lowerBound]).replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)
    }

    @Test func chromiumRendersThePanelSharesAndStepMarkersDuringARollout() throws {
        let setup = try Setup(maxLatency: nil, extraArguments: ["--metrics", "127.0.0.1:0"])
        let address = try setup.server.metricsAddress()
        #expect(try setup.waitFor("new", health: "up", timeout: .seconds(10)))
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s")
        #expect(start.status == 0, "\(start.output)")
        // Held at step 2 (50%) while the browser looks: a pause freezes it there.
        let atStep2 = try RolloutIntegrationTests.waitForRollout(setup, timeout: .seconds(30)) { ($0["step"] as? Int ?? 0) >= 2 }
        #expect(try setup.veer("rollout", "pause", "api.example.com").status == 0)
        #expect(atStep2["step"] as? Int == 2, "\(atStep2)")
        _ = try setup.answers(100)

        let url = "http://\(address)/"
        let page = try scrapeWithCurl(address, path: "/")
        let (dom, took) = try Self.renderedDOM(url)
        let rendered = Self.text(in: dom, after: "id=\"rendered\"", closing: "</p>") ?? "?"
        print("live page: \(page.utf8.count) bytes, chromium --dump-dom took \(took); \(rendered)")

        // The weighted name's panel, its rollout at step 2/3, the share of each endpoint.
        #expect(dom.contains("<section class=\"name\" data-name=\"api.example.com.\">"), "\(dom.prefix(3000))")
        let rollout = Self.text(in: dom, after: "<div class=\"rollout\"", closing: "</p>")
        #expect(rollout == "rollout to new: paused, step 2/3 (50%)", "\(rollout ?? "no rollout block")")
        #expect(dom.contains("<span class=\"step current\">50%</span>"))
        for endpoint in ["old", "new"] {
            let row = try #require(dom.range(of: "<tr class=\"endpoint\" data-endpoint=\"\(endpoint)\">"), "no row for \(endpoint)")
            let configured = Self.text(in: String(dom[row.lowerBound...]), after: "<td class=\"configured\"", closing: "</td>")
            #expect(configured == "50.0%", "\(endpoint): \(configured ?? "none")")
            let latency = Self.text(in: String(dom[row.lowerBound...]), after: "<td class=\"latency\"", closing: "</td>")
            #expect(latency?.hasSuffix(" ms") == true, "\(endpoint): \(latency ?? "none")")
        }
        // The markers: the start, the step to 2/3 and the pause, on the chart and in the list.
        for kind in ["start", "step", "pause"] {
            #expect(dom.contains("<g class=\"marker marker-\(kind)\""), "no \(kind) marker")
            #expect(dom.contains("<li class=\"event event-\(kind)\""), "no \(kind) event listed")
        }
        #expect(dom.contains("step 2/3 50%"))
        #expect(dom.contains("<polyline class=\"series configured\" data-endpoint=\"new\""))
        #expect(!dom.contains("data-fail-open"))

        let shot = Self.buildDirectory.appendingPathComponent("live-page.png")
        #expect(try Self.screenshot(url, to: shot, size: "1000,1400"), "no screenshot at \(shot.path)")
        #expect(try Self.screenshot(url, to: Self.buildDirectory.appendingPathComponent("live-page-phone.png"), size: "390,1400"))
    }

    @Test func theJSONTwinHasTheFieldsTheReadmeLists() throws {
        let setup = try Setup(maxLatency: nil, extraArguments: ["--metrics", "127.0.0.1:0"])
        let address = try setup.server.metricsAddress()
        #expect(try setup.waitFor("new", health: "up", timeout: .seconds(10)))
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "25,100", "--bake", "1h").status == 0)
        _ = try setup.answers(50)
        // The history takes the rollout in on the control clock's next tick (every 200 ms).
        let deadline = ContinuousClock.now + .seconds(20)
        var json = try Self.apiNames(address)
        while ContinuousClock.now < deadline, !String(describing: json["names"] ?? "").contains("rollout to new started") {
            Thread.sleep(forTimeInterval: 0.1)
            json = try Self.apiNames(address)
        }
        for field in ["generatedAt", "generation", "historyIntervalSeconds", "historyCapacity", "names"] {
            #expect(json[field] != nil, "no \(field) in \(json.keys.sorted())")
        }
        #expect(json["historyIntervalSeconds"] as? Int == 10)
        #expect(json["historyCapacity"] as? Int == 8_640)
        let name = try #require((json["names"] as? [[String: Any]])?.first)
        #expect(name["name"] as? String == "api.example.com.")
        #expect(name["failOpen"] as? Bool == false)
        let rollout = try #require(name["rollout"] as? [String: Any])
        for field in ["target", "phase", "step", "steps", "share", "bake", "baked", "bakeProgress", "nextStepAt"] {
            #expect(rollout[field] != nil, "no rollout.\(field) in \(rollout.keys.sorted())")
        }
        #expect(rollout["step"] as? Int == 1)
        let endpoints = try #require(name["endpoints"] as? [[String: Any]])
        #expect(endpoints.map { $0["id"] as? String } == ["old", "new"])
        for endpoint in endpoints {
            for field in ["id", "configured", "effective", "configuredShare", "effectiveShare", "observedShare", "served",
                          "servedLastMinute", "health", "latencyMs", "drain", "analyses"] {
                #expect(endpoint[field] != nil, "no \(field) in \(endpoint.keys.sorted())")
            }
        }
        #expect(endpoints[1]["configuredShare"] as? Double == 25)
        #expect(endpoints[1]["effectiveShare"] as? Double == 25)
        let points = try #require(name["points"] as? [[String: Any]])
        #expect(!points.isEmpty)
        let value = try #require((points.last?["endpoints"] as? [[String: Any]])?.last)
        for field in ["configured", "effective", "health"] { #expect(value[field] != nil, "no \(field) in a point") }
        #expect(points.last?["at"] is Int)
        let events = try #require(name["events"] as? [[String: Any]])
        let started = try #require(events.first { $0["kind"] as? String == "start" }, "\(events)")
        for field in ["at", "kind", "endpoint", "text"] { #expect(started[field] != nil, "no \(field) in an event") }
        #expect(try scrapeWithCurl(address, path: "/metrics").contains("veer_name_fail_open"))
    }

    /// The surfaces that must say a name fails open.
    enum Surface: String, CaseIterable {
        case statusText, statusJSON, txt, metrics, page
    }

    /// Every endpoint down: answers still flow by the configured weights, and each surface
    /// says so — and said nothing before.
    @Test(arguments: Surface.allCases)
    func failOpenIsVisible(on surface: Surface) throws {
        let setup = try Setup(oldWeight: 75, newWeight: 25, newRole: nil, extraArguments: ["--metrics", "127.0.0.1:0"])
        let address = try setup.server.metricsAddress()
        #expect(try setup.waitFor("new", health: "up", timeout: .seconds(10)))
        #expect(try setup.waitFor("old", health: "up", timeout: .seconds(10)))
        func shows() throws -> Bool {
            switch surface {
            case .statusText:
                return try setup.veer("status").output.contains("api.example.com. FAILING OPEN: every endpoint is down")
            case .statusJSON:
                let output = try setup.veer("status", "--json").output
                let json = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
                let name = try #require((json?["names"] as? [[String: Any]])?.first)
                return try #require(name["failOpen"] as? Bool, "no failOpen in \(name.keys.sorted())")
            case .txt:
                return try setup.server.dig("_veer.api.example.com.", "TXT").answer.joined().contains("\"fail-open=yes\"")
            case .metrics:
                let metrics = try PrometheusText(parsing: scrapeWithCurl(address))
                return try #require(metrics.value("veer_name_fail_open", ["name": "api.example.com."])) == 1
            case .page:
                return try scrapeWithCurl(address, path: "/").contains("data-fail-open=\"yes\"")
                    && (try Self.apiNames(address)["names"] as? [[String: Any]])?.first?["failOpen"] as? Bool == true
            }
        }
        #expect(try !shows(), "\(surface) says fail-open while every endpoint is up")
        setup.old.stop()
        setup.new.stop()
        #expect(try setup.waitFor("old", health: "down", timeout: .seconds(10)))
        #expect(try setup.waitFor("new", health: "down", timeout: .seconds(10)))
        let answers = try setup.answers(100)
        #expect(answers.contains("gw-old.example.net.") && answers.contains("gw-new.example.net."))
        #expect(try shows(), "\(surface) does not say fail-open")
    }
}

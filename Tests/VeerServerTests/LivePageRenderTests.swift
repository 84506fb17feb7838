import Foundation
import Testing
import Traffic
@testable import VeerServer

/// The live page and its JSON built from one report and a full day of history: both stay
/// small, say the same shares, and escape what they print.
struct LivePageRenderTests {
    /// `StatusSurfacesTests.report()` (api: old 75, new 25 and down) with 24 hours of history,
    /// `flaps` health changes of `new` among them.
    static func page(flaps: Int = 0) -> LivePage {
        let report = StatusSurfacesTests.report()
        var history = History()
        let start: Int64 = 1_796_000_000_000
        for i in 0..<Int64(NameHistory.capacity + 10) {
            let down = flaps > 0 && i % Int64(NameHistory.capacity / flaps) == 0
            let observation = HistoryObservation(name: StatusSurfacesTests.api, endpoints: [
                .init(id: "old", configured: 75, configuredShare: 75, effectiveShare: 100, served: UInt64(i * 75),
                      latencyMs: Int(i % 40), health: .up),
                .init(id: "new", configured: 25, configuredShare: 25, effectiveShare: 0, served: UInt64(i * 25),
                      latencyMs: Int(i % 50), health: down ? .down : .up),
            ], failOpen: false, rollout: nil)
            history.observe([observation], now: Moment(monotonic: i * History.interval, wall: start + i * History.interval))
        }
        let end = Int64(NameHistory.capacity + 10) * History.interval
        let now = StatusReport(effective: report.effective, rollouts: report.rollouts, changed: report.changed,
                               generation: report.generation, probes: [:], served: [], servedLastMinute: [],
                               now: Moment(monotonic: end, wall: start + end))
        return LivePage(now, history: history)
    }

    @Test func aFullDayStaysASmallPage() throws {
        let page = Self.page(flaps: 2_000)
        let started = ContinuousClock.now
        let html = page.html
        let json = JSON.text(page)
        print("live page with 24 h of history and \(page.names[0].events.count) events: \(html.utf8.count) bytes of HTML, "
              + "\(json.utf8.count) bytes of JSON, written in \(ContinuousClock.now - started)")
        let api = try #require(page.names.first { $0.name == "api.example.com." })
        #expect(api.points.count == LivePage.maxPoints)
        #expect(api.events.count == NameHistory.eventCapacity)
        #expect(html.components(separatedBy: "<g class=\"marker ").count - 1 == LivePage.drawnMarkers)
        #expect(html.utf8.count < 150_000)
        #expect(json.utf8.count < 400_000)
    }

    @Test func thePageAndTheJSONSayTheSameShares() throws {
        let page = Self.page()
        let decoded = try JSONSerialization.jsonObject(with: Data(JSON.text(page).utf8)) as! [String: Any]
        let api = (decoded["names"] as! [[String: Any]]).first { $0["name"] as? String == "api.example.com." }!
        let endpoints = api["endpoints"] as! [[String: Any]]
        // new went down and was rolled back to 0: the old gateway draws every answer.
        #expect(endpoints.map { $0["configuredShare"] as? Double } == [100, 0])
        #expect(endpoints.map { $0["effectiveShare"] as? Double } == [100, 0])
        #expect(endpoints.map { $0["health"] as? String } == ["up", "down"])
        let html = page.html
        #expect(html.contains("<tr class=\"endpoint\" data-endpoint=\"old\">"))
        #expect(html.contains("<td class=\"configured\">100.0%</td><td class=\"effective\">100.0%</td>"))
        #expect(html.contains("<td class=\"configured\">0.0%</td><td class=\"effective\">0.0%</td>"))
        #expect(html.contains("<td class=\"health down\">down</td>"))
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("<meta name=\"viewport\""))
        #expect(!html.contains("src=") && !html.contains("<link"), "the page loads nothing else")
    }

    @Test func theAnalysisValuesAndTheDrainOfTheOldEndpointAreShown() throws {
        // api: old drained (last answered at 10 s, TTL 30), new with a failing analysis.
        let page = LivePage(AnalysisSurfacesTests.report(), history: History())
        let html = page.html
        let new = try #require(html.range(of: "<tr class=\"endpoint\" data-endpoint=\"new\">"))
        #expect(html[new.upperBound...].contains("<td class=\"analysis\">errors fail: 0.05 / 0.001</td>"))
        let old = try #require(html.range(of: "<tr class=\"endpoint\" data-endpoint=\"old\">"))
        #expect(html[old.upperBound...].contains("<td class=\"drain\">drained since 1970-01-01T00:00:40Z</td>"))
        let api = try #require(page.names.first)
        #expect(api.endpoints.map(\.drain) == ["drained since 1970-01-01T00:00:40Z", "serving"])
        #expect(api.endpoints[1].analyses.first?.baseline == 0.001)
        // No history yet: the chart still draws now, without points behind it.
        #expect(api.points.isEmpty && html.contains("<polyline class=\"series configured\" data-endpoint=\"new\""))
    }

    @Test func whatThePagePrintsIsEscaped() {
        #expect(LivePage.escape("<script>\"a\" & 'b'</script>") == "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;")
        #expect(LivePage.number(12.34) == "12.3")
        #expect(LivePage.number(-0.5) == "-0.5")
        #expect(LivePage.number(600) == "600")
        #expect(LivePage.clock(1_796_000_000_000) == "00:53:20")
    }
}

import Traffic
import Units

/// The page as HTML: inline CSS and SVG, one line of script (the render time in the footer),
/// a meta refresh every `refreshSeconds`; no external file, so it works with no network but
/// the one to Veer. Fluid width, so a phone reads it.
extension LivePage {
    /// How often the page reloads itself: the history's interval.
    static let refreshSeconds = 10
    /// Chart size in SVG units; the SVG scales to the page's width.
    static let chartWidth = 600.0
    static let chartHeight = 180.0
    static let latencyHeight = 70.0
    /// Events listed under each chart, newest first.
    static let listedEvents = 12
    /// Markers drawn on a chart, the newest: a day of flapping health stays a small page.
    static let drawnMarkers = 200
    /// Text size in chart units: about 9 px on a phone, 16 px at the chart's widest.
    static let chartFont = 13
    /// Endpoint colours, in endpoint order.
    static let colours = ["#1f6fb5", "#d4442e", "#2e9e44", "#8a4fc0", "#e08a00", "#7a5a44"]
    /// Marker colours by event kind.
    static let markerColours: [String: String] = [
        "start": "#555", "step": "#1f6fb5", "pause": "#e08a00", "resume": "#2e9e44", "complete": "#2e9e44",
        "rollback": "#c0142b", "health": "#c0142b", "drain": "#7a5a44", "fail-open": "#c0142b", "weights": "#888",
    ]

    static let style = """
        body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:64rem;padding:.5rem;color:#222;background:#fafafa}
        h1{font-size:1.2rem;margin:.3rem 0}h2{font-size:1.1rem;margin:.2rem 0;word-break:break-all}
        section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem;margin:.6rem 0}
        svg{width:100%;max-width:48rem;height:auto;display:block}.wrap{overflow-x:auto}
        table{border-collapse:collapse;font-size:.9rem;width:100%}td,th{padding:.2rem .4rem;text-align:left;border-bottom:1px solid #eee;white-space:nowrap}
        .up,.unchecked,.unknown{color:#2e7d32}.down{color:#c0142b;font-weight:bold}
        .failopen{background:#c0142b;color:#fff;padding:.3rem .5rem;border-radius:4px;font-weight:bold}
        .bar{background:#eee;border-radius:3px;height:.6rem;overflow:hidden}.bar span{display:block;height:100%;background:#1f6fb5}
        .steps span{padding:0 .3rem;border-radius:3px}.steps .done{color:#888}.steps .current{background:#1f6fb5;color:#fff}
        .events{font-size:.85rem;padding-left:1.2rem;margin:.3rem 0}.muted{color:#777;font-size:.85rem}
        .key i{display:inline-block;width:1.2rem;height:.25rem;vertical-align:middle;margin:0 .2rem 0 .6rem}
        """

    /// The whole page.
    var html: String {
        var out = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        out += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        out += "<meta http-equiv=\"refresh\" content=\"\(Self.refreshSeconds)\"><title>Veer: live migration</title>"
        out += "<style>\(Self.style)</style></head><body>"
        out += "<h1>Veer: live migration</h1><p class=\"muted\">\(names.count) weighted name\(names.count == 1 ? "" : "s"), "
        out += "generation \(generation)\(server.map { ", server " + Self.escape($0) } ?? ""), at \(Self.clock(generatedAt)) UTC; "
        out += "one point per \(historyIntervalSeconds) s, \(historyCapacity) points (24 h) kept per name; "
        out += "reloads every \(Self.refreshSeconds) s; JSON at <a href=\"\(Self.apiPath)\">\(Self.apiPath)</a></p>"
        for name in names { out += panel(name) }
        out += "<p class=\"muted\" id=\"rendered\"></p>"
        out += "<script>document.getElementById('rendered').textContent='page rendered '+Math.round(performance.now())+' ms after navigation start'</script>"
        out += "</body></html>\n"
        return out
    }

    /// One weighted name: state, chart, latency, endpoint table, events.
    private func panel(_ name: Name) -> String {
        var out = "<section class=\"name\" data-name=\"\(Self.escape(name.name))\"><h2>\(Self.escape(name.name))</h2>"
        if name.failOpen {
            out += "<p class=\"failopen\" data-fail-open=\"yes\">FAILING OPEN: every endpoint is down; answers go out by the configured weights</p>"
        }
        if let rollout = name.rollout { out += Self.rolloutBlock(rollout) }
        out += "<p class=\"key muted\">share of answers, solid: configured, dotted: observed"
        for (i, endpoint) in name.endpoints.enumerated() {
            out += "<i style=\"background:\(Self.colour(i))\"></i>\(Self.escape(endpoint.id))"
        }
        out += "</p>" + chart(name) + latencyChart(name) + "<div class=\"wrap\">" + table(name) + "</div>"
        let recent = name.events.suffix(Self.listedEvents).reversed()
        if !recent.isEmpty {
            out += "<ol class=\"events\">"
            for event in recent {
                out += "<li class=\"event event-\(event.kind)\" data-kind=\"\(event.kind)\">\(Self.clock(event.at)) "
                out += "<b>\(event.kind)</b> \(Self.escape(event.text))</li>"
            }
            out += "</ol>"
        }
        return out + "</section>"
    }

    private static func rolloutBlock(_ rollout: RolloutState) -> String {
        var out = "<div class=\"rollout\" data-phase=\"\(rollout.phase)\" data-step=\"\(rollout.step)\">"
        out += "<p>rollout to <b>\(escape(rollout.target))</b>: \(rollout.phase), step \(rollout.step)/\(rollout.steps.count) (\(rollout.share))</p>"
        out += "<p class=\"steps\">"
        for (i, step) in rollout.steps.enumerated() {
            let state = i + 1 < rollout.step ? "done" : i + 1 == rollout.step ? "current" : "next"
            out += "<span class=\"step \(state)\">\(step)</span>"
        }
        out += "</p><div class=\"bar\" title=\"bake\"><span style=\"width:\(Int(rollout.bakeProgress * 100))%\"></span></div>"
        out += "<p class=\"muted\">baked \(rollout.baked) of \(rollout.bake)"
        if let next = rollout.nextStepAt { out += "; next step at \(escape(next)) if it stays clean" }
        if let note = rollout.note { out += "; \(escape(note))" }
        return out + "</p></div>"
    }

    /// The time span the charts cover: from the oldest point to now, at least a minute.
    private func span(_ name: Name) -> (from: Int64, length: Double) {
        let from = min(name.points.first?.at ?? generatedAt, generatedAt - 60_000)
        return (from, Double(max(generatedAt - from, 1)))
    }

    /// The share chart: per endpoint its configured share (a solid step line) and observed
    /// share (dotted), now included, and a marker for each event in the span.
    private func chart(_ name: Name) -> String {
        let (from, length) = span(name)
        let w = Self.chartWidth, h = Self.chartHeight
        func x(_ at: Int64) -> String { Self.number(Double(at - from) / length * w) }
        func y(_ percent: Double) -> String { Self.number(h - percent / 100 * h) }
        let now = Point(at: generatedAt, endpoints: name.endpoints.map {
            Value(configured: $0.configuredShare, effective: $0.effectiveShare, observed: $0.observedShare, latencyMs: $0.latencyMs, health: $0.health)
        })
        let points = name.points + [now]
        var out = "<svg class=\"chart\" viewBox=\"0 -10 \(Int(w)) \(Int(h) + 30)\" role=\"img\" aria-label=\"shares over time\">"
        for percent in [0.0, 25, 50, 75, 100] {
            out += "<line x1=\"0\" x2=\"\(Int(w))\" y1=\"\(y(percent))\" y2=\"\(y(percent))\" stroke=\"#e4e4e4\"/>"
            out += "<text x=\"2\" y=\"\(y(percent))\" font-size=\"\(Self.chartFont)\" fill=\"#888\">\(Int(percent))%</text>"
        }
        for event in name.events.suffix(Self.drawnMarkers) where event.at >= from {
            out += "<g class=\"marker marker-\(event.kind)\" data-kind=\"\(event.kind)\"><title>\(Self.clock(event.at)) \(event.kind): \(Self.escape(event.text))</title>"
            out += "<line x1=\"\(x(event.at))\" x2=\"\(x(event.at))\" y1=\"0\" y2=\"\(Int(h))\" stroke=\"\(Self.markerColours[event.kind] ?? "#888")\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/></g>"
        }
        for (i, endpoint) in name.endpoints.enumerated() {
            var configured = "", observed = ""
            var previous: String?
            for point in points where i < point.endpoints.count {
                let value = point.endpoints[i]
                if let previous { configured += " \(x(point.at)),\(previous)" }
                configured += " \(x(point.at)),\(y(value.configured))"
                previous = y(value.configured)
                if let seen = value.observed { observed += (observed.isEmpty ? "M" : " L") + "\(x(point.at)),\(y(seen))" }
            }
            let colour = Self.colour(i)
            out += "<polyline class=\"series configured\" data-endpoint=\"\(Self.escape(endpoint.id))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(configured)\"/>"
            if !observed.isEmpty {
                out += "<path class=\"series observed\" data-endpoint=\"\(Self.escape(endpoint.id))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\" d=\"\(observed)\"/>"
            }
        }
        out += "<text x=\"0\" y=\"\(Int(h) + 16)\" font-size=\"\(Self.chartFont)\" fill=\"#888\">\(Self.clock(from))</text>"
        out += "<text x=\"\(Int(w))\" y=\"\(Int(h) + 16)\" font-size=\"\(Self.chartFont)\" fill=\"#888\" text-anchor=\"end\">now \(Self.clock(generatedAt))</text>"
        return out + "</svg>"
    }

    /// The probe latency of each endpoint over the same span, scaled to the highest.
    private func latencyChart(_ name: Name) -> String {
        guard name.endpoints.contains(where: { $0.latencyMs != nil }) else { return "" }
        let (from, length) = span(name)
        let w = Self.chartWidth, h = Self.latencyHeight
        let all = name.points.flatMap { $0.endpoints.compactMap(\.latencyMs) } + name.endpoints.compactMap(\.latencyMs)
        let top = Double(max(10, all.max() ?? 10))
        var out = "<svg class=\"latency\" viewBox=\"0 -14 \(Int(w)) \(Int(h) + 18)\" role=\"img\" aria-label=\"probe latency\">"
        out += "<text x=\"2\" y=\"-2\" font-size=\"\(Self.chartFont)\" fill=\"#888\">probe latency, top \(Int(top)) ms</text>"
        for (i, endpoint) in name.endpoints.enumerated() {
            var line = ""
            let now = [(generatedAt, endpoint.latencyMs)]
            for (at, latency) in name.points.map({ ($0.at, i < $0.endpoints.count ? $0.endpoints[i].latencyMs : nil) }) + now {
                guard let latency else { continue }
                line += " \(Self.number(Double(at - from) / length * w)),\(Self.number(h - Double(latency) / top * h))"
            }
            if line.isEmpty { continue }
            out += "<polyline data-endpoint=\"\(Self.escape(endpoint.id))\" fill=\"none\" stroke=\"\(Self.colour(i))\" stroke-width=\"1.5\" points=\"\(line)\"/>"
        }
        return out + "</svg>"
    }

    private func table(_ name: Name) -> String {
        var out = "<table class=\"endpoints\"><tr><th>endpoint</th><th>health</th><th>weight</th><th>configured</th>"
        out += "<th>effective</th><th>observed (1 min)</th><th>probe</th><th>analysis (new / old)</th><th>drain</th></tr>"
        for (i, e) in name.endpoints.enumerated() {
            out += "<tr class=\"endpoint\" data-endpoint=\"\(Self.escape(e.id))\">"
            out += "<td><i style=\"color:\(Self.colour(i))\">&#9632;</i> \(Self.escape(e.id))\(e.role.map { " <span class=\"muted\">(\(Self.escape($0)))</span>" } ?? "")</td>"
            out += "<td class=\"health \(e.health)\">\(e.health)</td><td>\(e.configured) / \(e.effective)</td>"
            out += "<td class=\"configured\">\(Units.percentText(e.configuredShare))</td><td class=\"effective\">\(Units.percentText(e.effectiveShare))</td>"
            out += "<td class=\"observed\">\(e.observedShare.map(Units.percentText) ?? "-")</td>"
            out += "<td class=\"latency\">\(e.latencyMs.map { "\($0) ms" } ?? "-")</td><td class=\"analysis\">"
            out += e.analyses.map { a in
                let values = a.value.map { AnalysisRule.number($0) } ?? "-"
                let baseline = a.baseline.map { AnalysisRule.number($0) } ?? "-"
                return "\(Self.escape(a.analysis)) \(a.verdict): \(values) / \(baseline)"
            }.joined(separator: "<br>")
            out += e.analyses.isEmpty ? "-" : ""
            out += "</td><td class=\"drain\">\(Self.escape(e.drain))</td></tr>"
        }
        return out + "</table>"
    }

    static func colour(_ index: Int) -> String { colours[index % colours.count] }

    /// `HH:MM:SS` (UTC) of Unix milliseconds.
    static func clock(_ ms: Int64) -> String {
        let text = Log.timestamp(ms / 1000)
        guard let t = text.firstIndex(of: "T") else { return text }
        return String(text[text.index(after: t)...].prefix(8))
    }

    /// An SVG coordinate with one decimal.
    static func number(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : "", size = abs(tenths)
        return sign + (size % 10 == 0 ? "\(size / 10)" : "\(size / 10).\(size % 10)")
    }

    /// Text for HTML content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}

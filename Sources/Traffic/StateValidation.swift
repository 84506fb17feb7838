/// The one check of a saved state, wherever it comes from: `weights.json`, etcd's state key,
/// `veer store import`, and (again, belt and braces) every undo entry as it is restored.
/// A state read from disk or from another server is hostile until it passes: it must hold
/// nothing a command could not have made. Each failure names the field, as the saved
/// document spells it (`names[0].undo[2]`), and the reason.
public enum StateValidation {
    /// Checks `names` (in the order the document lists them) and `rollouts`; throws a
    /// `.corrupt` `StoreError` whose text is `FIELD: REASON`.
    public static func check(names: [WeightStore.Name], rollouts: [Rollout]) throws(StoreError) {
        var seen: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            let field = "names[\(index)]"
            let key = NameKey(name.name).text
            guard !name.name.isEmpty else { throw corrupt("\(field).name", "empty") }
            if let first = seen[key] { throw corrupt("\(field).name", "\(key) appears twice (also names[\(first)])") }
            seen[key] = index
            try check(name, field: field)
        }
        var rolloutNames: [String: Int] = [:]
        for (index, rollout) in rollouts.enumerated() {
            let field = "rollouts[\(index)]"
            let key = NameKey(rollout.name).text
            if let first = rolloutNames[key] { throw corrupt("\(field).name", "\(key) has two rollouts (also rollouts[\(first)])") }
            rolloutNames[key] = index
            try check(rollout, field: field)
        }
    }

    /// Why `weights` cannot be the weights of a name with `endpoints` endpoints, or nil:
    /// one weight per endpoint, each at most `AdminCommand.maxWeight`, not all 0. Shared by
    /// the load-time check and `WeightStore.undoing`.
    public static func problem(_ weights: [UInt32], endpoints: Int) -> String? {
        if weights.count != endpoints {
            return "\(weights.count) weight\(weights.count == 1 ? "" : "s") for \(endpoints) endpoint\(endpoints == 1 ? "" : "s")"
        }
        if let big = weights.first(where: { $0 > AdminCommand.maxWeight }) {
            return "weight \(big) is above the largest weight \(AdminCommand.maxWeight)"
        }
        if !weights.contains(where: { $0 > 0 }) { return "every weight is 0" }
        return nil
    }

    private static func check(_ name: WeightStore.Name, field: String) throws(StoreError) {
        guard !name.endpoints.isEmpty else { throw corrupt("\(field).endpoints", "no endpoints") }
        try checkEndpoints(name.endpoints, field: "\(field).endpoints")
        if !name.weights.contains(where: { $0 > 0 }) {
            throw corrupt("\(field).endpoints", "every weight is 0; a weighted name needs one endpoint above 0")
        }
        for (index, entry) in name.undo.enumerated() {
            if let problem = problem(entry, endpoints: name.endpoints.count) {
                throw corrupt("\(field).undo[\(index)]", problem)
            }
        }
    }

    /// Ids present and unique, weights in range.
    private static func checkEndpoints(_ endpoints: [WeightStore.Endpoint], field: String) throws(StoreError) {
        var ids: [String: Int] = [:]
        for (index, endpoint) in endpoints.enumerated() {
            guard !endpoint.id.isEmpty else { throw corrupt("\(field)[\(index)].id", "empty") }
            if let first = ids[endpoint.id] {
                throw corrupt("\(field)[\(index)].id", "endpoint \"\(endpoint.id)\" appears twice (also \(field)[\(first)])")
            }
            ids[endpoint.id] = index
            guard endpoint.weight <= AdminCommand.maxWeight else {
                throw corrupt("\(field)[\(index)].weight", "\(endpoint.weight) is above the largest weight \(AdminCommand.maxWeight)")
            }
        }
    }

    /// A plan `Rollout.init` would accept, at a step and phase it can reach.
    private static func check(_ rollout: Rollout, field: String) throws(StoreError) {
        guard !rollout.name.isEmpty else { throw corrupt("\(field).name", "empty") }
        guard (1...Rollout.maxSteps).contains(rollout.steps.count) else {
            throw corrupt("\(field).steps", "\(rollout.steps.count) steps; a rollout has 1 to \(Rollout.maxSteps)")
        }
        for (index, value) in rollout.steps.enumerated() {
            guard (1...10_000).contains(value) else {
                throw corrupt("\(field).steps[\(index)]", "\(value) basis points; a step is above 0 and at most 10000")
            }
            if index > 0, value <= rollout.steps[index - 1] {
                throw corrupt("\(field).steps[\(index)]", "\(value) after \(rollout.steps[index - 1]); steps must increase")
            }
        }
        guard rollout.steps.indices.contains(rollout.step) else {
            throw corrupt("\(field).step", "step \(rollout.step) of a \(rollout.steps.count)-step plan")
        }
        guard Rollout.bakeRange.contains(rollout.bakeMs) else {
            throw corrupt("\(field).bakeMs", "\(rollout.bakeMs) ms; a bake is from 1s to 7d")
        }
        guard rollout.bakedMs >= 0 else { throw corrupt("\(field).bakedMs", "\(rollout.bakedMs) is negative") }
        guard rollout.cleanProbes >= 0 else { throw corrupt("\(field).cleanProbes", "\(rollout.cleanProbes) is negative") }
        guard !rollout.baseline.isEmpty else { throw corrupt("\(field).baseline", "no endpoints") }
        try checkEndpoints(rollout.baseline, field: "\(field).baseline")
        guard rollout.baseline.contains(where: { $0.id == rollout.target }) else {
            throw corrupt("\(field).target", "\"\(rollout.target)\" is not among the baseline's endpoints "
                          + rollout.baseline.map(\.id).joined(separator: ", "))
        }
    }

    private static func corrupt(_ field: String, _ reason: String) -> StoreError {
        StoreError(.corrupt, "\(field): \(reason)")
    }
}

extension PersistedState {
    /// Throws unless the state passes `StateValidation` (names in their sorted order).
    public func validate() throws(StoreError) {
        try StateValidation.check(names: store.names, rollouts: rollouts)
    }
}

import Testing
@testable import Traffic

/// DNSSEC renewal through the plane: `.signed` says when the served signatures are due and
/// publishes them; the clock's tick then asks the edge for one `.resign`, and no other until
/// the next `.signed`.
struct ControlPlaneSigningTests {
    @Test func signedPublishesAndTheTickAsksForOneRenewalWhenDue() {
        var driver = Driver()
        let generation = driver.plane.generation
        driver.send(.signed(zones: 0, refreshAtMs: 5_000), at: 1_000)
        #expect(driver.published.last == generation + 1)
        #expect(driver.plane.resignAtMs == 5_000)
        driver.send(.tick, at: 4_999)
        #expect(driver.resigns.isEmpty)
        driver.send(.tick, at: 5_000)
        #expect(driver.resigns == [0])
        driver.send(.tick, at: 9_000)
        #expect(driver.resigns == [0])
        #expect(driver.plane.resignAtMs == nil)
    }

    @Test func signaturesOfAnOlderZoneSetAreIgnored() {
        var driver = Driver()
        driver.send(.reload(Driver.config, zones: 2), at: 1_000)
        let generation = driver.plane.generation
        driver.send(.signed(zones: 1, refreshAtMs: 5_000), at: 2_000)
        #expect(driver.plane.generation == generation)
        #expect(driver.plane.resignAtMs == nil)
    }
}

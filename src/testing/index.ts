// paxos-colleague/testing: the whole-colleague simulator (`simulate`: real
// colleagues and your application on a simulated network and clock), the
// legislator-only island simulator, the simulated networks and clocks, the
// history checker and the seeded random source.

export { simulate, COLLEAGUE_FAULTS, COLLEAGUE_MUTANTS } from './colleague-simulation.js'
export type {
  ColleagueFault,
  ColleagueInvariant,
  ColleagueMutant,
  ColleagueSimulateOptions,
  ColleagueSimulationResult,
  ColleagueSimulationStats,
  ColleagueViolation,
  Workload,
  WorkloadApi,
  WorkloadRandom,
} from './colleague-simulation.js'
export { DURABLE_MUTANTS } from './durable-members.js'
export type { DurableMutant, DurableSimulateOptions, DurableSimulationStats } from './durable-members.js'
export { PeerNetwork, CALM } from './peer-network.js'
export type { Endpoint, PeerFaults, PeerNetworkStats, WireObserver } from './peer-network.js'
export { Scheduler, MemberClock } from './scheduler.js'
export { simulate as simulateLegislators, FAULT_TYPES } from './island.js'
export type {
  FaultType,
  LegislatorFactory,
  LegislatorFactoryOptions,
  SimulatedLegislator,
  SimulateOptions,
  SimulationResult,
  SimulationStats,
} from './island.js'
export { SimulatedNetwork, NO_FAULTS } from './network.js'
export type { NetworkFaults, NetworkOptions, NetworkStats } from './network.js'
export { HistoryChecker, governmentsInFlight, leadingBallot, submissionKey } from './checker.js'
export type { CheckerOptions, Invariant, MemberView, Violation } from './checker.js'
export { createRandom } from './prng.js'
export type { Random } from './prng.js'
export { checkHistory, VIOLATIONS_PER_RULE_MAX } from './history.js'
export type { HistoryCounts, HistoryOperation, HistoryReport, HistoryRule, HistoryViolation, KvMap, KvMapEntry, MemberFinal, Outcome, ReadOperation, ScanOperation, WriteOperation } from './history.js'
export { oneSubmitter } from './workloads.js'
export type { OneSubmitterOptions } from './workloads.js'

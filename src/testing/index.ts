// paxos-colleague/testing: the seeded island simulator, the simulated network
// and clock, the history checker and the seeded random source, for testing the
// core and applications built on it.

export { simulate, FAULT_TYPES } from './island.js'
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

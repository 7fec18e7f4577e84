/** riskloop's transaction simulator: see docs/simulator.md for the generative process. */
export {
  SimulatorConfig,
  PopulationConfig,
  FraudConfig,
  LabelConfig,
  simulationEnd,
  type SimulatorConfigInput,
  type SegmentName,
} from './config.js';
export {
  simulate,
  SIMULATED_TOPICS,
  type KeyedRecord,
  type SimulatedRecords,
  type SimulatedTopic,
  type SimulateOptions,
  type SimulationResult,
  type TruthRecord,
} from './simulate.js';
export { FRAUD_PATTERNS, type FraudPattern } from './model.js';
export { formatSummary, percentiles, type Percentiles, type SimulationSummary } from './summary.js';
export { drawFraudChargebackDelayDays } from './labels/chargebacks.js';
export { luhnCheckDigit, TEST_BINS } from './pan.js';
export { Random } from './random.js';
export { writeSimulationFiles, TOPIC_FILES, TRUTH_FILE, SUMMARY_FILE } from './sinks/files.js';
export { produceSimulation, type KafkaSinkOptions, type KafkaSinkReport } from './sinks/kafka.js';

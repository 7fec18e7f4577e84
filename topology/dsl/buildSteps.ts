/**
 * How DSL objects write into a Topology. DSL calls only record steps; `StreamsBuilder.build()`
 * replays them into a fresh Topology once the application id (which prefixes internal topics) is
 * known. Names are generated when the DSL call is made, so building twice gives the same names.
 */
import type { Topology } from '../topology.js';
import type { NameGenerator } from './names.js';

export interface BuildSteps {
  readonly names: NameGenerator;
  addStep(step: (topology: Topology) => void): void;
}

/**
 * Model releases reach every instance through a global store fed by the compacted model-releases
 * topic (one partition, so all instances apply releases in the same order). Applying a release
 * hands it to the process's ModelRegistry, which swaps models atomically between scoring batches;
 * a refused release (bad checksum, missing features) is logged and the running model stays.
 */
import type { Logger } from 'pino';
import { Stores, type KeyValueStoreBuilder } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { ModelRelease } from '../schemas/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import type { ModelRegistry } from './modelRegistry.js';

export const MODEL_RELEASES_STORE = 'model-releases';

/** What the store keeps per version: the outcome, not the artifact (that lives in the registry). */
export interface AppliedRelease {
  version: string;
  mode: string;
  sha256: string;
  accepted: boolean;
  reason: string | null;
  releasedAt: number;
}

export function modelReleasesStore(): KeyValueStoreBuilder<string, AppliedRelease> {
  return Stores.keyValue<string, AppliedRelease>(MODEL_RELEASES_STORE, Serdes.String, Serdes.Json<AppliedRelease>(), { persistent: false, logged: false });
}

export class ModelReleaseProcessor implements Processor<string, ModelRelease | null> {
  private store!: KeyValueStore<string, AppliedRelease>;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly logger: Logger,
  ) {}

  private ctx!: ProcessorContext<never, never>;

  init(ctx: ProcessorContext<never, never>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(MODEL_RELEASES_STORE);
  }

  async process(record: Record<string, ModelRelease | null>): Promise<void> {
    const release = record.value;
    // A tombstone only compacts the topic; retiring a model is an explicit release with mode
    // "retired". Skipped, counted (dropped, null-value) and logged with its key (a model version).
    if (release === null) {
      this.ctx.recordDropped('null-value');
      const where = this.ctx.recordMetadata();
      this.logger.info({ event: 'tombstone-skipped', key: record.key, partition: where?.partition ?? -1, offset: where?.offset ?? -1 }, 'model-release tombstone skipped: the running models stay (retire a model with mode "retired")');
      return;
    }
    const outcome = await this.registry.applyRelease(release);
    const accepted = outcome.accepted;
    const reason = outcome.accepted ? null : outcome.reason;
    this.store.put(release.version, { version: release.version, mode: release.mode, sha256: release.sha256, accepted, reason, releasedAt: release.releasedAt });
    if (accepted) this.logger.info({ version: release.version, mode: release.mode }, 'model release applied');
    else this.logger.error({ version: release.version, mode: release.mode, reason }, 'model release refused; the running models stay');
  }
}

export function modelReleaseProcessor(registry: ModelRegistry, logger: Logger): ProcessorSupplier<string, ModelRelease | null> {
  return () => new ModelReleaseProcessor(registry, logger);
}

/**
 * The models the scorer uses: one champion (decides), at most one canary (decides for a share of
 * cards instead of the champion) and any number of shadows (scored, recorded, never decide).
 *
 * Loading verifies before anything runs: the artifact's sha256 must match the release, the model
 * must name its input columns in its own metadata (`feature_names`, a JSON array, in input order;
 * the scorer never assumes an order), the input must be one float32 [N, F] tensor with F equal to
 * that list, and a one-row probe run must give a probability. A refused model is logged with the
 * reason and changes nothing: the models in force keep running.
 *
 * Swaps are atomic between batches: the installed models are one immutable ModelSet object, replaced
 * whole. The scorer takes a lease on the current set at the start of a batch and uses it for the
 * whole batch, so a release landing mid-batch applies from the next batch on; a superseded model's
 * ONNX session is released once no lease holds it. Installs run one at a time, in call order, so a
 * slow load cannot overtake a later release.
 *
 * Model releases (schemas ModelRelease, the model-releases topic) reach the registry through
 * `applyRelease`; reading that topic is the wiring's job.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ModelRelease, ReferenceHistogram, Thresholds } from '../schemas/types.js';
import { TREES_METADATA_KEY, TreeExplainer } from './contributions.js';
import { ThresholdsSchema } from './decide.js';

export const ModelSpec = z
  .object({
    version: z.string().min(1).max(200),
    /** The ONNX bytes, or */
    artifact: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'must be bytes').nullable().default(null),
    /** a local file path to them (fetching remote artifacts is the caller's job). */
    artifactPath: z.string().min(1).nullable().default(null),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits'),
    thresholds: ThresholdsSchema,
    /** When given (a release's featureNames), must equal the model's own metadata list, order included. */
    featureNames: z.array(z.string()).optional(),
    /** Per feature, the value occlusion explanations substitute (the model card's training medians). */
    referenceValues: z.record(z.string(), z.number()).optional(),
  })
  .refine((s) => (s.artifact === null) !== (s.artifactPath === null), 'exactly one of artifact and artifactPath must be set');
export type ModelSpecInput = z.input<typeof ModelSpec>;

/** A verified model with its ONNX session. Built only by the registry. */
export class LoadedModel {
  /** Leases of ModelSets holding this model; the session is released when retired and unleased. */
  leases = 0;
  retired = false;

  constructor(
    readonly version: string,
    readonly sha256: string,
    /** Input column order, from the model's metadata. */
    readonly featureNames: readonly string[],
    readonly thresholds: Thresholds,
    readonly referenceValues: Readonly<Record<string, number>> | null,
    /** The model declares (metadata `missing_values` = "nan") that NaN means "missing" to it, as trees do. */
    readonly handlesMissing: boolean,
    readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputName: string,
    /** Which column of each output row is the fraud probability (1 of a [N, 2] output, 0 of [N, 1] or [N]). */
    readonly scoreColumn: number,
    readonly outputWidth: number,
    /** Per-decision contributions from the trees file beside the artifact (processors/contributions.ts); null without one. */
    readonly explainer: TreeExplainer | null = null,
  ) {}
}

export interface CanarySlot {
  readonly model: LoadedModel;
  /** Share of cards in [0, 1] the canary decides for. */
  readonly share: number;
}

export interface ModelSet {
  readonly champion: LoadedModel | null;
  readonly canary: CanarySlot | null;
  readonly shadows: readonly LoadedModel[];
}

export interface ModelLease {
  readonly models: ModelSet;
  release(): void;
}

export type LoadOutcome = { accepted: true; model: LoadedModel } | { accepted: false; version: string; reason: string };

export const RegistryOptions = z.object({
  /**
   * Threads per ONNX session. One by default: the hot path scores small batches of a small tree
   * model, and tasks already spread over the cores.
   */
  intraOpNumThreads: z.number().int().min(1).max(64).default(1),
});
export type RegistryOptions = z.input<typeof RegistryOptions>;

export interface InferenceStats {
  /** session.run calls on the hot path (probe runs at load are not counted). */
  runs: number;
  rows: number;
  runsByVersion: Map<string, number>;
}

const EMPTY: ModelSet = Object.freeze({ champion: null, canary: null, shadows: Object.freeze([]) });

/** The `mode` of a ModelRelease, parsed. */
export type ReleaseMode = { role: 'champion' } | { role: 'shadow' } | { role: 'canary'; share: number } | { role: 'retired' };

export function parseReleaseMode(mode: string): ReleaseMode {
  if (mode === 'champion' || mode === 'shadow' || mode === 'retired') return { role: mode };
  const canary = /^canary:(\d+(?:\.\d+)?)$/.exec(mode);
  if (canary) {
    const percent = Number(canary[1]);
    if (percent > 0 && percent <= 100) return { role: 'canary', share: percent / 100 };
  }
  throw new Error(`unknown release mode "${mode}" (expected champion, shadow, canary:N with 0 < N <= 100, or retired)`);
}

/** The features the running hot path produces (its feature set, processors/featureSet/), which models are checked against. */
export interface ProducedFeatures {
  version: string;
  produced: ReadonlySet<string>;
}

export class ModelRegistry {
  private set: ModelSet = EMPTY;
  private featureSet: ProducedFeatures | null = null;
  private readonly versionThresholds = new Map<string, Thresholds>();
  private installs: Promise<unknown> = Promise.resolve();
  private readonly options: z.output<typeof RegistryOptions>;
  readonly stats: InferenceStats = { runs: 0, rows: 0, runsByVersion: new Map() };

  constructor(
    private readonly logger: Logger,
    options: RegistryOptions = {},
  ) {
    this.options = RegistryOptions.parse(options);
  }

  current(): ModelSet {
    return this.set;
  }

  /**
   * From now on a model is refused when its feature_names list a feature the running feature set
   * does not produce (it would score on values that are never there). Models already installed
   * are not re-checked: the set is fixed for the life of the process, set it before installing.
   */
  useFeatureSet(featureSet: ProducedFeatures): void {
    this.featureSet = featureSet;
  }

  /** Features `names` needs that the running feature set does not produce (empty without a set). */
  missingFeatures(names: readonly string[]): string[] {
    const fs = this.featureSet;
    return fs === null ? [] : names.filter((n) => !fs.produced.has(n));
  }

  /** The current set, held until release(): its models' sessions stay open even if swapped out meanwhile. */
  lease(): ModelLease {
    const models = this.set;
    const held = modelsOf(models);
    for (const m of held) m.leases++;
    let released = false;
    return {
      models,
      release: () => {
        if (released) return;
        released = true;
        for (const m of held) {
          m.leases--;
          if (m.retired && m.leases === 0) void closeSession(m, this.logger);
        }
      },
    };
  }

  /** Thresholds of any model version installed since start (the decision step looks the scorer's up here). */
  thresholdsFor(version: string): Thresholds | undefined {
    return this.versionThresholds.get(version);
  }

  /** Verifies and opens a model without installing it. */
  load(input: ModelSpecInput): Promise<LoadOutcome> {
    return this.open(input, false);
  }

  /** load(), or with `reuse` the installed model the verified spec describes exactly (installedAs). */
  private async open(input: ModelSpecInput, reuse: boolean): Promise<LoadOutcome> {
    const parsed = ModelSpec.safeParse(input);
    const version = typeof input === 'object' && input !== null && typeof input.version === 'string' ? input.version : '(no version)';
    if (!parsed.success) return this.refuse(version, `invalid model spec: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
    const spec = parsed.data;
    let bytes: Uint8Array;
    try {
      bytes = spec.artifact ?? (await readFile(spec.artifactPath!));
    } catch (error) {
      return this.refuse(spec.version, `cannot read artifact ${spec.artifactPath}: ${(error as Error).message}`);
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== spec.sha256.toLowerCase()) {
      return this.refuse(spec.version, `sha256 mismatch: release says ${spec.sha256.toLowerCase()}, artifact is ${actual}`);
    }
    const installed = reuse ? this.installedAs(spec, actual) : null;
    if (installed !== null) return { accepted: true, model: installed };
    let metadata: Map<string, string>;
    try {
      metadata = readOnnxMetadata(bytes);
    } catch (error) {
      return this.refuse(spec.version, `not an ONNX model: ${(error as Error).message}`);
    }
    const names = parseFeatureNames(metadata.get('feature_names'));
    if (typeof names === 'string') return this.refuse(spec.version, names);
    if (spec.featureNames && JSON.stringify(spec.featureNames) !== JSON.stringify(names)) {
      return this.refuse(spec.version, `release featureNames ${JSON.stringify(spec.featureNames)} differ from the model's metadata ${JSON.stringify(names)}`);
    }
    const missing = this.missingFeatures(names);
    if (missing.length > 0) {
      const trainedOn = metadata.get('feature_set_version');
      return this.refuse(
        spec.version,
        `the model needs ${missing.length} feature(s) the running feature set ${this.featureSet!.version} does not produce: ${missing.join(', ')}` +
          `${trainedOn === undefined ? '' : ` (it was trained on feature set ${trainedOn})`}; run with a feature set that declares them (--feature-set) or retrain on this one`,
      );
    }
    const embeddedVersion = metadata.get('model_version');
    if (embeddedVersion !== undefined && embeddedVersion !== spec.version) {
      // The release version is what decisions record; a different embedded one is worth a look, not a refusal.
      this.logger.warn({ modelVersion: spec.version, embeddedVersion }, 'model metadata names another version; decisions will record the release version');
    }

    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: this.options.intraOpNumThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      return this.refuse(spec.version, `onnxruntime cannot open it: ${(error as Error).message}`);
    }
    const shape = checkSignature(session, names.length, metadata.get('score_output'));
    if (typeof shape === 'string') {
      await session.release().catch(() => undefined);
      return this.refuse(spec.version, shape);
    }
    const referenceValues = spec.referenceValues ? Object.freeze({ ...spec.referenceValues }) : null;
    const probe = await probeRun(session, shape.inputName, shape.outputName, Float32Array.from(names, (f) => referenceValues?.[f] ?? 0));
    if (typeof probe === 'string') {
      await session.release().catch(() => undefined);
      return this.refuse(spec.version, probe);
    }
    const explainer = await this.loadTrees(spec.version, metadata.get(TREES_METADATA_KEY), spec.artifactPath, names, probe.score, Float32Array.from(names, (f) => referenceValues?.[f] ?? 0));
    const model = new LoadedModel(
      spec.version,
      actual,
      Object.freeze([...names]),
      Object.freeze({ ...spec.thresholds }),
      referenceValues,
      metadata.get('missing_values') === 'nan',
      session,
      shape.inputName,
      shape.outputName,
      probe.scoreColumn,
      probe.outputWidth,
      explainer,
    );
    return { accepted: true, model };
  }

  /**
   * The model's trees (training/train.py puts them in the ONNX metadata `riskloop_trees`, so they
   * travel with inline release artifacts; else the file `<artifact without .onnx>.trees.json`) as
   * an explainer, or null when there are none or they do not fit. They must reproduce the probe
   * score: trees of another model must not explain this one's decisions.
   */
  private async loadTrees(version: string, embedded: string | undefined, artifactPath: string | null, names: readonly string[], probeScore: number, probeRow: Float32Array): Promise<TreeExplainer | null> {
    const treesPath = embedded !== undefined || artifactPath === null ? null : `${artifactPath.replace(/\.onnx$/, '')}.trees.json`;
    let text = embedded;
    if (treesPath !== null) {
      try {
        text = await readFile(treesPath, 'utf8');
      } catch {
        return null;
      }
    }
    if (text === undefined) return null;
    try {
      const explainer = TreeExplainer.fromDocument(JSON.parse(text), names);
      const raw = explainer.contributionsInto(probeRow, 0, new Float64Array(names.length));
      const score = 1 / (1 + Math.exp(-raw));
      if (!(Math.abs(score - probeScore) <= 1e-4)) throw new Error(`its trees give ${score} on the probe row where the model gives ${probeScore}`);
      return explainer;
    } catch (error) {
      this.logger.warn({ modelVersion: version, trees: treesPath ?? `metadata ${TREES_METADATA_KEY}`, reason: (error as Error).message }, 'model trees not used: decisions of this model go out without contributions');
      return null;
    }
  }

  /** Installs a model as champion; it leaves any other role it had. */
  setChampion(model: ModelSpecInput | LoadedModel): Promise<LoadOutcome> {
    return this.install(model, 'champion', (set, m) => ({ ...without(set, m.version), champion: m }));
  }

  /** Installs (or replaces, by version) a shadow model. */
  setShadow(model: ModelSpecInput | LoadedModel): Promise<LoadOutcome> {
    return this.install(model, 'shadow', (set, m) => {
      const rest = without(set, m.version);
      return { ...rest, shadows: [...rest.shadows, m] };
    });
  }

  /** Installs the canary, deciding for `share` (0..1] of cards in place of the champion. */
  setCanary(model: ModelSpecInput | LoadedModel, share: number): Promise<LoadOutcome> {
    if (!(share > 0 && share <= 1)) return Promise.reject(new RangeError(`canary share must be in (0, 1], got ${share}`));
    return this.install(model, `canary (${share})`, (set, m) => ({ ...without(set, m.version), canary: { model: m, share } }));
  }

  /** Removes a version from whatever role it has (a retired release or a tombstone). */
  retire(version: string): Promise<void> {
    return this.serially(async () => {
      this.swap(without(this.set, version));
      this.logger.info({ modelVersion: version }, 'model retired');
    });
  }

  /**
   * Applies a ModelRelease record. Reference values for explanations come from `referenceValues`
   * when given, else from the medians of the release's reference distributions.
   */
  async applyRelease(release: ModelRelease, referenceValues?: Record<string, number>): Promise<LoadOutcome | { accepted: true; retired: string }> {
    let mode: ReleaseMode;
    try {
      mode = parseReleaseMode(release.mode);
    } catch (error) {
      return this.refuse(release.version, (error as Error).message);
    }
    if (mode.role === 'retired') {
      await this.retire(release.version);
      return { accepted: true, retired: release.version };
    }
    const spec: ModelSpecInput = {
      version: release.version,
      artifact: release.artifact,
      artifactPath: release.artifactPath,
      sha256: release.sha256,
      thresholds: release.thresholds,
      featureNames: release.featureNames,
      referenceValues: referenceValues ?? referenceValuesFromDistributions(release.referenceDistributions),
    };
    if (mode.role === 'champion') return this.setChampion(spec);
    if (mode.role === 'shadow') return this.setShadow(spec);
    return this.setCanary(spec, mode.share);
  }

  /**
   * One inference call: `rows` rows of the model's features in `data` (row-major, model column
   * order). Returns each row's fraud probability. Counted in `stats`.
   */
  async score(model: LoadedModel, data: Float32Array, rows: number): Promise<Float32Array> {
    this.stats.runs++;
    this.stats.rows += rows;
    this.stats.runsByVersion.set(model.version, (this.stats.runsByVersion.get(model.version) ?? 0) + 1);
    return this.runSession(model, data, rows);
  }

  /** Releases every session; the registry is empty afterwards. */
  async close(): Promise<void> {
    await this.serially(async () => this.swap(EMPTY));
  }

  // ---- internals ----

  private async runSession(model: LoadedModel, data: Float32Array, rows: number): Promise<Float32Array> {
    const input = new ort.Tensor('float32', data, [rows, model.featureNames.length]);
    const output = (await model.session.run({ [model.inputName]: input }, [model.outputName]))[model.outputName];
    if (output === undefined) throw new Error(`model ${model.version} returned no ${model.outputName}`);
    const values = output.data;
    if (!(values instanceof Float32Array || values instanceof Float64Array)) throw new Error(`model ${model.version}: ${model.outputName} is ${output.type}, not a float tensor`);
    if (values.length !== rows * model.outputWidth) throw new Error(`model ${model.version}: ${values.length} output values for ${rows} rows`);
    const scores = new Float32Array(rows);
    for (let i = 0; i < rows; i++) scores[i] = values[i * model.outputWidth + model.scoreColumn]!;
    return scores;
  }

  private install(input: ModelSpecInput | LoadedModel, role: string, place: (set: ModelSet, model: LoadedModel) => ModelSet): Promise<LoadOutcome> {
    return this.serially(async () => {
      if (input instanceof LoadedModel && input.retired) return this.refuse(input.version, 'this loaded model was retired and its session closed; load it again');
      const outcome = input instanceof LoadedModel ? ({ accepted: true, model: input } as const) : await this.open(input, true);
      if (!outcome.accepted) return outcome;
      const model = outcome.model;
      this.versionThresholds.set(model.version, model.thresholds);
      this.swap(place(this.set, model));
      this.logger.info({ modelVersion: model.version, role, features: model.featureNames.length, handlesMissing: model.handlesMissing }, 'model installed');
      return outcome;
    });
  }

  /**
   * The installed model a spec describes exactly (version, artifact digest, thresholds, reference
   * values, feature list), or null. A rollout moves one artifact shadow → canary → champion by
   * releasing it again; loading it anew each time (digest, ONNX session, the trees' JSON) held the
   * event loop for hundreds of milliseconds on a large model, and every decision queued behind it:
   * a demo's canary was rolled back on exactly that stall (p99 604 ms against 250). The bytes are
   * still read and hashed (`digest`): a release naming the right digest over other bytes is refused
   * as before, never taken for the installed model.
   */
  private installedAs(spec: z.output<typeof ModelSpec>, digest: string): LoadedModel | null {
    const model = modelsOf(this.set).find((m) => m.version === spec.version && !m.retired) ?? null;
    if (model === null || model.sha256 !== digest) return null;
    if (spec.featureNames !== undefined && JSON.stringify(spec.featureNames) !== JSON.stringify(model.featureNames)) return null;
    if (model.thresholds.review !== spec.thresholds.review || model.thresholds.decline !== spec.thresholds.decline) return null;
    if (!sameNumbers(model.referenceValues ?? {}, spec.referenceValues ?? {})) return null;
    return model;
  }

  private swap(next: ModelSet): void {
    const frozen: ModelSet = Object.freeze({ ...next, shadows: Object.freeze([...next.shadows]) });
    const kept = new Set(modelsOf(frozen));
    const dropped = modelsOf(this.set).filter((m) => !kept.has(m));
    this.set = frozen;
    for (const m of dropped) {
      m.retired = true;
      if (m.leases === 0) void closeSession(m, this.logger);
    }
  }

  private refuse(version: string, reason: string): LoadOutcome {
    const inForce = this.set.champion?.version ?? 'none';
    this.logger.error({ modelVersion: version, reason, champion: inForce }, `model ${version} refused: ${reason}; the models in force keep running (champion ${inForce})`);
    return { accepted: false, version, reason };
  }

  private serially<T>(op: () => Promise<T>): Promise<T> {
    const next = this.installs.then(op, op);
    this.installs = next.catch(() => undefined);
    return next;
  }
}

/** One row (reference values, else zeros) through the model: learns the output layout and checks it is a probability. */
async function probeRun(session: ort.InferenceSession, inputName: string, outputName: string, row: Float32Array): Promise<{ scoreColumn: number; outputWidth: number; score: number } | string> {
  try {
    const output = (await session.run({ [inputName]: new ort.Tensor('float32', row, [1, row.length]) }, [outputName]))[outputName]!;
    const width = output.dims.length === 1 ? 1 : Number(output.dims[1]);
    if (output.dims[0] !== 1 || output.dims.length > 2 || (width !== 1 && width !== 2)) {
      return `output ${outputName} has shape [${output.dims.join(', ')}] for one row; expected [1, 2], [1, 1] or [1]`;
    }
    const scoreColumn = width === 2 ? 1 : 0;
    const p = Number((output.data as Float32Array | Float64Array)[scoreColumn]);
    if (!(p >= 0 && p <= 1)) return `output ${outputName} is not a probability (probe gave ${p})`;
    return { scoreColumn, outputWidth: width, score: p };
  } catch (error) {
    return `probe run failed: ${(error as Error).message}`;
  }
}

/** Two records of numbers with the same keys and values (an absent key equals an undefined one). */
function sameNumbers(a: Readonly<Record<string, number | undefined>>, b: Readonly<Record<string, number | undefined>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

function modelsOf(set: ModelSet): LoadedModel[] {
  return [...(set.champion ? [set.champion] : []), ...(set.canary ? [set.canary.model] : []), ...set.shadows];
}

function without(set: ModelSet, version: string): ModelSet {
  return {
    champion: set.champion?.version === version ? null : set.champion,
    canary: set.canary?.model.version === version ? null : set.canary,
    shadows: set.shadows.filter((m) => m.version !== version),
  };
}

async function closeSession(model: LoadedModel, logger: Logger): Promise<void> {
  try {
    await model.session.release();
  } catch (error) {
    logger.warn({ modelVersion: model.version, err: error }, 'releasing a retired model session failed');
  }
}

function parseFeatureNames(raw: string | undefined): string[] | string {
  if (raw === undefined) return 'the model has no feature_names metadata: its input column order is unknown';
  let names: unknown;
  try {
    names = JSON.parse(raw);
  } catch {
    return 'feature_names metadata is not JSON';
  }
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && n.length > 0)) {
    return 'feature_names metadata must be a non-empty JSON array of names';
  }
  if (new Set(names).size !== names.length) return 'feature_names metadata lists a name twice';
  return names as string[];
}

function checkSignature(session: ort.InferenceSession, featureCount: number, scoreOutput: string | undefined): { inputName: string; outputName: string } | string {
  if (session.inputNames.length !== 1) return `the model has ${session.inputNames.length} inputs; expected one [N, F] feature tensor`;
  const input = session.inputMetadata[0];
  if (input?.isTensor) {
    if (input.type !== 'float32') return `input ${input.name} is ${input.type}; expected float32`;
    const width = input.shape[input.shape.length - 1];
    if (input.shape.length !== 2 || (typeof width === 'number' && width !== featureCount)) {
      return `input ${input.name} has shape [${input.shape.join(', ')}]; expected [N, ${featureCount}] for ${featureCount} feature names`;
    }
  }
  const outputName = scoreOutput ?? (session.outputNames.includes('probabilities') ? 'probabilities' : session.outputNames.length === 1 ? session.outputNames[0] : undefined);
  if (outputName === undefined || !session.outputNames.includes(outputName)) {
    return `cannot tell which output is the score (outputs ${session.outputNames.join(', ')}; set score_output metadata)`;
  }
  return { inputName: session.inputNames[0]!, outputName };
}

/**
 * The model's metadata_props (ModelProto field 14: key/value string pairs). onnxruntime-node does
 * not expose custom metadata, so this walks the top level of the protobuf by hand: tag varints and
 * length-delimited skips only, never the graph. Hand-written because a protobuf library would need
 * the whole ONNX schema for two string fields.
 */
export function readOnnxMetadata(bytes: Uint8Array): Map<string, string> {
  const props = new Map<string, string>();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const fields = (from: number, to: number, onField: (field: number, start: number, end: number) => void): void => {
    let pos = from;
    const varint = (): number => {
      let value = 0;
      let scale = 1;
      for (let i = 0; i < 10; i++) {
        if (pos >= to) throw new Error('truncated varint');
        const byte = bytes[pos++]!;
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) return value;
        scale *= 128;
      }
      throw new Error('varint too long');
    };
    while (pos < to) {
      const tag = varint();
      const field = Math.floor(tag / 8);
      switch (tag & 7) {
        case 0: varint(); break;
        case 1: pos += 8; break;
        case 5: pos += 4; break;
        case 2: {
          const length = varint();
          if (pos + length > to) throw new Error('truncated field');
          onField(field, pos, pos + length);
          pos += length;
          break;
        }
        default: throw new Error(`unsupported wire type ${tag & 7}`);
      }
      if (pos > to) throw new Error('truncated field');
    }
  };
  fields(0, bytes.length, (field, start, end) => {
    if (field !== 14) return;
    let key = '';
    let value = '';
    fields(start, end, (f, s, e) => {
      if (f === 1) key = decoder.decode(bytes.subarray(s, e));
      else if (f === 2) value = decoder.decode(bytes.subarray(s, e));
    });
    props.set(key, value);
  });
  return props;
}

/** Median of each histogram, interpolated linearly inside the bin where the cumulative share crosses one half. */
export function referenceValuesFromDistributions(distributions: Record<string, ReferenceHistogram>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [feature, h] of Object.entries(distributions)) {
    if (feature === '__score__' || h.edges.length !== h.proportions.length + 1) continue;
    const total = h.proportions.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    for (let i = 0; i < h.proportions.length; i++) {
      const share = h.proportions[i]! / total;
      if (cumulative + share >= 0.5 && share > 0) {
        out[feature] = h.edges[i]! + ((0.5 - cumulative) / share) * (h.edges[i + 1]! - h.edges[i]!);
        break;
      }
      cumulative += share;
    }
  }
  return out;
}

const ModelCard = z.object({
  version: z.string().min(1),
  artifact: z.string().min(1),
  sha256: z.string(),
  thresholds: ThresholdsSchema,
  features: z.array(z.string()),
  referenceValues: z.record(z.string(), z.number()).optional(),
});

/** A ModelSpec from a model card (models/*.card.json): artifact beside the card, its sha256, thresholds, reference values. */
export async function specFromModelCard(cardPath: string): Promise<z.output<typeof ModelSpec>> {
  const card = ModelCard.parse(JSON.parse(await readFile(cardPath, 'utf8')));
  return ModelSpec.parse({
    version: card.version,
    artifactPath: path.resolve(path.dirname(cardPath), card.artifact),
    sha256: card.sha256,
    thresholds: card.thresholds,
    featureNames: card.features,
    referenceValues: card.referenceValues,
  });
}

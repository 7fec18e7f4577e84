/**
 * The model registry: what it verifies before a model may score (sha256, feature names in the
 * model's metadata, a float input of the right width), that a refused model leaves the models in
 * force alone, atomic swaps with leases, release modes, and the committed model artifacts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ModelRegistry,
  type ModelSpecInput,
  parseReleaseMode,
  readOnnxMetadata,
  referenceValuesFromDistributions,
  specFromModelCard,
} from '../../../processors/modelRegistry.js';
import { EXAMPLES } from '../../../schemas/examples.js';

const MODELS = path.resolve(import.meta.dirname, '../../../models');
const bootstrapBytes = readFileSync(path.join(MODELS, 'bootstrap-v1.onnx'));
const orderBytes = readFileSync(path.join(MODELS, 'test-order.onnx'));
const bootstrapCard = JSON.parse(readFileSync(path.join(MODELS, 'bootstrap-v1.card.json'), 'utf8')) as {
  sha256: string;
  features: string[];
  thresholds: { review: number; decline: number };
  referenceValues: Record<string, number>;
  metrics: { holdoutAuc: number };
};
const orderCard = JSON.parse(readFileSync(path.join(MODELS, 'test-order.card.json'), 'utf8')) as { sha256: string };

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const orderSpec = (over: Partial<ModelSpecInput> = {}): ModelSpecInput => ({
  version: 'test-order',
  artifact: orderBytes,
  sha256: orderCard.sha256,
  thresholds: { review: 0.5, decline: 0.8 },
  ...over,
});

/** A ModelRelease of test-order (mode set by each use). */
const orderRelease = () => ({
  ...EXAMPLES.ModelRelease,
  version: 'test-order',
  artifact: orderBytes,
  artifactPath: null,
  sha256: orderCard.sha256,
  featureNames: ['order.c', 'order.a', 'order.b'],
  thresholds: { review: 0.4, decline: 0.7 },
  referenceDistributions: {},
});

let registry: ModelRegistry | undefined;
afterEach(async () => {
  await registry?.close();
  registry = undefined;
});

describe('the committed model artifacts', () => {
  it('carry their feature names and version in the ONNX metadata, matching the model card', () => {
    const meta = readOnnxMetadata(bootstrapBytes);
    expect(JSON.parse(meta.get('feature_names')!)).toEqual(bootstrapCard.features);
    expect(bootstrapCard.features).toHaveLength(25);
    expect(meta.get('model_version')).toBe('bootstrap-v1');
    expect(meta.get('missing_values')).toBe('nan');
    const order = readOnnxMetadata(orderBytes);
    expect(JSON.parse(order.get('feature_names')!)).toEqual(['order.c', 'order.a', 'order.b']);
    // The linear test model does not claim to handle NaN.
    expect(order.has('missing_values')).toBe(false);
  });

  it('has a card whose thresholds are ordered, whose holdout AUC shows it learned something, and a reference value per feature', () => {
    expect(bootstrapCard.thresholds.review).toBeLessThan(bootstrapCard.thresholds.decline);
    expect(bootstrapCard.metrics.holdoutAuc).toBeGreaterThan(0.75);
    expect(Object.keys(bootstrapCard.referenceValues).sort()).toEqual([...bootstrapCard.features].sort());
  });

  it('loads through the card, with the card sha256 matching the bytes', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    const outcome = await registry.setChampion(await specFromModelCard(path.join(MODELS, 'bootstrap-v1.card.json')));
    expect(outcome.accepted).toBe(true);
    const champion = registry.current().champion!;
    expect(champion.featureNames).toEqual(bootstrapCard.features);
    expect(champion.handlesMissing).toBe(true);
    expect(champion.thresholds).toEqual(bootstrapCard.thresholds);
  });
});

describe('ModelRegistry', () => {
  it('refuses an artifact whose sha256 does not match, says why in one log line, and keeps the champion', async () => {
    const { logger, lines } = capturingLogger();
    registry = new ModelRegistry(logger);
    expect((await registry.setChampion(orderSpec())).accepted).toBe(true);
    const before = registry.current();

    const wrongSha = bootstrapCard.sha256; // a real hash, of another file
    const outcome = await registry.setChampion({ version: 'bootstrap-v1', artifact: bootstrapBytes.subarray(0, bootstrapBytes.length - 1), sha256: wrongSha, thresholds: { review: 0.3, decline: 0.9 } });
    expect(outcome).toMatchObject({ accepted: false, version: 'bootstrap-v1' });
    expect(!outcome.accepted && outcome.reason).toMatch(/^sha256 mismatch: release says [0-9a-f]{64}, artifact is [0-9a-f]{64}$/);
    expect(registry.current()).toBe(before);
    expect(registry.current().champion!.version).toBe('test-order');
    const refusal = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 50)!;
    expect(refusal.msg).toContain('model bootstrap-v1 refused: sha256 mismatch');
    expect(refusal.msg).toContain('champion test-order');
  });

  it('refuses a release whose feature names differ from the model metadata, and bad specs', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    const reordered = await registry.load(orderSpec({ featureNames: ['order.a', 'order.b', 'order.c'] }));
    expect(!reordered.accepted && reordered.reason).toMatch(/differ from the model's metadata/);
    const both = await registry.load(orderSpec({ artifactPath: path.join(MODELS, 'test-order.onnx') }));
    expect(!both.accepted && both.reason).toMatch(/exactly one of artifact and artifactPath/);
    const inverted = await registry.load(orderSpec({ thresholds: { review: 0.9, decline: 0.5 } }));
    expect(!inverted.accepted && inverted.reason).toMatch(/review threshold must not exceed/);
    const notOnnx = Buffer.from('definitely not a model');
    const { createHash } = await import('node:crypto');
    const garbage = await registry.load(orderSpec({ artifact: notOnnx, sha256: createHash('sha256').update(notOnnx).digest('hex') }));
    expect(garbage.accepted).toBe(false);
    expect(registry.current().champion).toBeNull();
  });

  it('refuses a model with no feature_names metadata: its column order would be a guess', async () => {
    // The test-order model with its metadata entries renamed in place (same lengths, so the
    // protobuf framing stays valid): feature_names becomes feature_nameX.
    const bytes = Buffer.from(orderBytes);
    const at = bytes.indexOf('feature_names');
    bytes.write('feature_nameX', at);
    const { createHash } = await import('node:crypto');
    registry = new ModelRegistry(pino({ level: 'silent' }));
    const outcome = await registry.load(orderSpec({ artifact: bytes, sha256: createHash('sha256').update(bytes).digest('hex') }));
    expect(!outcome.accepted && outcome.reason).toMatch(/no feature_names metadata/);
  });

  it('swaps atomically: a lease keeps its set (and sessions) while a new champion is installed', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(orderSpec());
    const lease = registry.lease();
    const old = lease.models.champion!;
    await registry.setChampion({ version: 'bootstrap-v1', artifact: bootstrapBytes, sha256: bootstrapCard.sha256, thresholds: bootstrapCard.thresholds });
    expect(registry.current().champion!.version).toBe('bootstrap-v1');
    expect(lease.models.champion).toBe(old);
    expect(old.retired).toBe(true);
    // The retired session still runs for the lease holder: 0.1*1 + 0.01*2 + 0.001*3.
    const scores = await registry.score(old, Float32Array.from([1, 2, 3]), 1);
    expect(scores[0]).toBeCloseTo(0.123, 6);
    lease.release();
    expect(old.leases).toBe(0);
    // Installing a retired instance again is refused rather than running on a closed session.
    const again = await registry.setChampion(old);
    expect(again.accepted).toBe(false);
  });

  it('keeps one role per version: promoting a shadow removes it from the shadows', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion({ version: 'bootstrap-v1', artifact: bootstrapBytes, sha256: bootstrapCard.sha256, thresholds: bootstrapCard.thresholds });
    await registry.setShadow(orderSpec());
    expect(registry.current().shadows.map((m) => m.version)).toEqual(['test-order']);
    await registry.setChampion(orderSpec({ thresholds: { review: 0.1, decline: 0.2 } }));
    expect(registry.current().champion!.version).toBe('test-order');
    expect(registry.current().shadows).toEqual([]);
    expect(registry.thresholdsFor('test-order')).toEqual({ review: 0.1, decline: 0.2 });
    await registry.retire('test-order');
    expect(registry.current().champion).toBeNull();
  });

  it('applies model releases by mode', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    const release = orderRelease();
    expect((await registry.applyRelease({ ...release, mode: 'canary:12.5' })).accepted).toBe(true);
    expect(registry.current().canary).toMatchObject({ share: 0.125 });
    expect((await registry.applyRelease({ ...release, mode: 'shadow' })).accepted).toBe(true);
    expect([registry.current().canary, registry.current().shadows.length]).toEqual([null, 1]);
    expect((await registry.applyRelease({ ...release, mode: 'retired' })).accepted).toBe(true);
    expect(registry.current().shadows).toEqual([]);
    expect((await registry.applyRelease({ ...release, mode: 'canary:0' })).accepted).toBe(false);
  });

  it('moves a released artifact shadow -> canary -> champion without loading it again; a changed threshold loads anew', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    // The digest in capitals: a release may spell it so, and it is still the installed model's.
    const release = { ...orderRelease(), sha256: orderCard.sha256.toUpperCase() };
    await registry.applyRelease({ ...release, mode: 'shadow' });
    const shadow = registry.current().shadows[0]!;
    await registry.applyRelease({ ...release, mode: 'canary:20' });
    expect(registry.current().canary!.model).toBe(shadow);
    expect(registry.current().shadows).toEqual([]);
    await registry.applyRelease({ ...release, mode: 'champion' });
    const champion = registry.current().champion!;
    expect([champion, champion.session, champion.retired]).toEqual([shadow, shadow.session, false]);
    expect(registry.current().canary).toBeNull();

    // Other thresholds are another model as far as decisions go: loaded and checked again, the old session retired.
    await registry.applyRelease({ ...release, mode: 'champion', thresholds: { review: 0.3, decline: 0.6 } });
    const reloaded = registry.current().champion!;
    expect(reloaded).not.toBe(shadow);
    expect([reloaded.thresholds, shadow.retired]).toEqual([{ review: 0.3, decline: 0.6 }, true]);
    // A different artifact under the same version is never taken for the installed one.
    const other = await registry.applyRelease({ ...release, mode: 'champion', thresholds: { review: 0.3, decline: 0.6 }, artifact: bootstrapBytes });
    expect(other.accepted).toBe(false);
    expect(registry.current().champion).toBe(reloaded);
  });

  it('parses release modes', () => {
    expect(parseReleaseMode('champion')).toEqual({ role: 'champion' });
    expect(parseReleaseMode('canary:5')).toEqual({ role: 'canary', share: 0.05 });
    expect(() => parseReleaseMode('canary:101')).toThrow(/unknown release mode/);
    expect(() => parseReleaseMode('primary')).toThrow(/unknown release mode/);
  });

  it('derives reference values as histogram medians', () => {
    // Bins [0,10) 20%, [10,20) 40%, [20,40) 40%: the half-way point needs 0.3 of the second bin's 0.4,
    // i.e. 75% of the way into [10,20): 10 + 0.75 * 10.
    expect(referenceValuesFromDistributions({ x: { edges: [0, 10, 20, 40], proportions: [0.2, 0.4, 0.4] }, __score__: { edges: [0, 1], proportions: [1] } })).toEqual({ x: 17.5 });
  });
});

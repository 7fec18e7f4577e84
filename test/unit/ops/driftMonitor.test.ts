/**
 * Drift monitor through TopologyTestDriver on simulated traffic.
 *
 * Decisions are made here from simulated transactions with three features a risk engineer would
 * watch and that the simulator's drifting fraud pattern moves: log10 of the amount, a
 * money-transfer/crypto merchant flag, and a toy score rising with the amount (the monitor does
 * not care how a score was made, only how it is distributed). Reference distributions come from
 * the first week of the stream, as a model trained on that week would store them.
 *
 * Both ways: with the drifting pattern strong, hours of the last week alert (and the listener sees
 * PSI above the threshold); the same population without it stays below the threshold everywhere.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildCatalogue } from '../../../schemas/catalogue.js';
import type { Alert, Decision, ModelRelease, Transaction } from '../../../schemas/types.js';
import { simulate } from '../../../simulator/simulate.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { driftTopology } from '../../../ops/driftTopology.js';
import { binCounts, psi, referenceFromSample } from '../../../ops/psi.js';
import { SCORE_REFERENCE, type DriftMeasurement, type References } from '../../../processors/driftMonitor.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const catalogue = buildCatalogue({ prefix: 't.', partitions: 3 });
const LATE_MCCS = new Set(['4829', '6051']);

function decisionOf(t: Transaction, key: string): Decision {
  const logAmount = Math.log10(Math.max(t.amountMinor, 1));
  return {
    transactionId: t.transactionId,
    accountToken: key,
    cardToken: 'c',
    eventTime: t.eventTime,
    decidedAt: 0,
    decision: 'APPROVE',
    score: Math.min(1, logAmount / 6),
    modelVersion: 'm1',
    shadowScores: [],
    ruleSetVersion: 'r1',
    reasonCodes: [],
    features: { 'txn.log_amount': logAmount, 'txn.transfer_or_crypto': LATE_MCCS.has(t.mcc) ? 1 : 0 },
    facts: {},
    topContributions: [],
    pipelineLatencyMs: 0,
  };
}

function decisions(driftingRate: number, days = 14): Decision[] {
  const sim = simulate(
    { seed: 7, customers: 1500, days, labelTailDays: 0, fraud: { drifting: { incidentsPerThousandAccountDays: driftingRate } } },
    { keyFor: (id) => `tok-${id}` },
  );
  return sim.records.transactions.map((r) => decisionOf(r.value, r.key));
}

function referencesOf(ds: Decision[]): References {
  return {
    'txn.log_amount': referenceFromSample(ds.map((d) => d.features['txn.log_amount']!), 10),
    // A binary feature: two bins split at 0.5.
    'txn.transfer_or_crypto': (() => {
      const counts = binCounts({ edges: [0, 0.5, 1], proportions: [0, 0] }, ds.map((d) => d.features['txn.transfer_or_crypto']!));
      return { edges: [0, 0.5, 1], proportions: counts.map((c) => c / ds.length) };
    })(),
    [SCORE_REFERENCE]: referenceFromSample(ds.map((d) => d.score!), 10),
  };
}

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

async function run(ds: Decision[], refs: References, viaTopic: boolean) {
  const measurements: DriftMeasurement[] = [];
  const topology = driftTopology(
    'drift-test',
    { minSamples: 150 },
    {
      catalogue,
      serdes: { decisions: Serdes.Json<Decision>(), alerts: Serdes.Json<Alert>(), modelReleases: Serdes.Json<ModelRelease | null>() },
      seeded: viaTopic ? new Map() : new Map([['m1', refs]]),
      listener: (m) => measurements.push(m),
    },
  );
  driver = await TopologyTestDriver.create(topology, { partitions: { [catalogue.decisions.name]: 3 } });
  if (viaTopic) {
    const releases = driver.createInputTopic(catalogue.modelReleases.name, Serdes.String, Serdes.Json<ModelRelease>());
    await releases.pipeInput('m1', { version: 'm1', artifact: null, artifactPath: 'x', sha256: 'x', featureNames: [], thresholds: { review: 0.5, decline: 0.9 }, mode: 'champion', referenceDistributions: refs, releasedAt: 0, releasedBy: null }, 0);
  }
  const input = driver.createInputTopic(catalogue.decisions.name, Serdes.String, Serdes.Json<Decision>());
  for (const d of ds) await input.pipeInput(d.accountToken, d, d.eventTime);
  const alerts = driver.createOutputTopic(catalogue.alerts.name, Serdes.String, Serdes.Json<Alert>()).readValuesToList() as Alert[];
  return { measurements, alerts };
}

describe('drift monitor on simulated traffic', () => {
  const hourOf = (ts: number) => Math.floor(ts / HOUR) * HOUR;

  it('raises PSI alerts when the shifting fraud pattern is strong, and none on the same population without it', async () => {
    const drifted = decisions(250);
    const start = hourOf(drifted[0]!.eventTime);
    const firstWeek = (ds: Decision[]) => ds.filter((d) => d.eventTime < start + 7 * DAY);

    const d = await run(drifted, referencesOf(firstWeek(drifted)), false);
    const lastWeekStart = start + 7 * DAY;
    const lateAlerts = d.alerts.filter((a) => a.windowStart >= lastWeekStart);
    expect(lateAlerts.length).toBeGreaterThan(0);
    expect(new Set(lateAlerts.map((a) => a.subject))).toContain('txn.transfer_or_crypto');
    for (const a of d.alerts) {
      expect(a.value).toBeGreaterThan(0.2);
      expect(a.windowEnd - a.windowStart).toBe(HOUR);
      expect(a.kind).toBe(a.subject === SCORE_REFERENCE ? 'SCORE_DRIFT_PSI' : 'FEATURE_DRIFT_PSI');
    }
    // The listener (what sets the metric) saw each alert as a measurement above the threshold.
    expect(d.measurements.filter((m) => m.alerted)).toHaveLength(d.alerts.length);

    // One alert recomputed by hand from the raw decisions of its hour.
    const a = lateAlerts[0]!;
    const refs = referencesOf(firstWeek(drifted));
    const inHour = drifted.filter((x) => x.eventTime >= a.windowStart && x.eventTime < a.windowEnd);
    const values = inHour.map((x) => (a.subject === SCORE_REFERENCE ? x.score! : x.features[a.subject]!));
    expect(a.value).toBeCloseTo(psi(refs[a.subject]!.proportions, binCounts(refs[a.subject]!, values)), 12);
    expect(Number(a.details.samples)).toBe(inHour.length);

    const stable = decisions(0);
    const s = await run(stable, referencesOf(firstWeek(stable)), false);
    expect(s.measurements.length).toBeGreaterThan(100);
    expect(s.alerts).toEqual([]);
    expect(Math.max(...s.measurements.map((m) => m.psi))).toBeLessThan(0.2);
  }, 120_000);

  it('takes reference distributions from a model release on the releases topic', async () => {
    const drifted = decisions(250, 10);
    const start = hourOf(drifted[0]!.eventTime);
    const refs = referencesOf(drifted.filter((d) => d.eventTime < start + 7 * DAY));
    const viaTopic = await run(drifted, refs, true);
    const seeded = await (async () => {
      await driver?.close();
      driver = undefined;
      return run(drifted, refs, false);
    })();
    expect(viaTopic.alerts.length).toBeGreaterThan(0);
    // Replays identically apart from the wall-clock raisedAt.
    const strip = (as: Alert[]) => as.map((x) => ({ ...x, raisedAt: 0 }));
    expect(strip(viaTopic.alerts)).toEqual(strip(seeded.alerts));
  }, 120_000);
});

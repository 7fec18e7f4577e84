/**
 * Impossible travel: the haversine distance, the speed with its Δt floor, and the features through
 * source → ingress → velocity → sink, across the antimeridian.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EARTH_RADIUS_KM, haversineKm, isValidLatLon } from '../../../processors/geo.js';
import { TRAVEL_FEATURE_NAMES, TravelConfig, assessTravel } from '../../../processors/impossibleTravel.js';
import { ingressProcessor } from '../../../processors/ingress.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import type { RiskContext } from '../../../processors/types.js';
import { type VelocityConfigInput, velocityFeaturesProcessor, velocityStoreBuilders } from '../../../processors/velocityFeatures.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { DeadLetter, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2024, 5, 10, 12, 0, 30);
const DEG = Math.PI / 180;

describe('haversine', () => {
  it('measures along the equator as R·Δλ, across the date line the short way', () => {
    // lon 179.9 → -179.9 is 0.2° of longitude: R · 0.2 · π/180 = 22.239 km, not ~40 000 km.
    expect(haversineKm({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 })).toBeCloseTo(EARTH_RADIUS_KM * 0.2 * DEG, 9);
    expect(haversineKm({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 })).toBeCloseTo(22.239, 3);
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 1 })).toBeCloseTo(EARTH_RADIUS_KM * DEG, 9);
  });

  it('gives half the circumference pole to pole and for antipodes, and 0 for the same point', () => {
    expect(haversineKm({ lat: 90, lon: 0 }, { lat: -90, lon: 0 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 9);
    expect(haversineKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 })).toBeCloseTo(Math.PI * EARTH_RADIUS_KM, 9);
    expect(haversineKm({ lat: 47.3769, lon: 8.5417 }, { lat: 47.3769, lon: 8.5417 })).toBe(0);
  });

  it('agrees with the published London–Paris great-circle distance (~343.5 km)', () => {
    expect(haversineKm({ lat: 51.5074, lon: -0.1278 }, { lat: 48.8566, lon: 2.3522 })).toBeCloseTo(343.56, 1);
  });

  it('treats out-of-range or non-finite coordinates as no location', () => {
    expect(isValidLatLon(0, 0)).toBe(true);
    expect(isValidLatLon(90, -180)).toBe(true);
    expect(isValidLatLon(90.1, 0)).toBe(false);
    expect(isValidLatLon(0, 180.5)).toBe(false);
    expect(isValidLatLon(Number.NaN, 0)).toBe(false);
    expect(isValidLatLon(null, 0)).toBe(false);
  });
});

describe('assessTravel', () => {
  const config = TravelConfig.parse({});

  it('divides by the real Δt above the floor and flags speeds over 900 km/h', () => {
    // 1° of longitude at the equator (111.195 km) in 6 minutes: 1 111.95 km/h.
    const a = assessTravel({ time: 0, lat: 0, lon: 0 }, { time: 6 * MIN, lat: 0, lon: 1 }, config);
    expect(a.distanceKm).toBeCloseTo(EARTH_RADIUS_KM * DEG, 9);
    expect(a.speedKmh).toBeCloseTo(EARTH_RADIUS_KM * DEG * 10, 9);
    expect(a.impossible).toBe(true);
    // The same hop in 8 minutes: 833.96 km/h, an airliner could.
    expect(assessTravel({ time: 0, lat: 0, lon: 0 }, { time: 8 * MIN, lat: 0, lon: 1 }, config).impossible).toBe(false);
  });

  it('floors Δt at the clock-skew tolerance, so Δt = 0 gives a finite speed', () => {
    const same = assessTravel({ time: 5, lat: 10, lon: 10 }, { time: 5, lat: 10, lon: 10 }, config);
    expect(same).toEqual({ distanceKm: 0, speedKmh: 0, impossible: false });
    // 0.1° (11.12 km) at Δt 0: over the 1-minute floor that is 667.2 km/h, under the threshold.
    const near = assessTravel({ time: 5, lat: 0, lon: 0 }, { time: 5, lat: 0, lon: 0.1 }, config);
    expect(near.speedKmh).toBeCloseTo(EARTH_RADIUS_KM * 0.1 * DEG * 60, 9);
    expect(near.impossible).toBe(false);
    expect(Number.isFinite(assessTravel({ time: 5, lat: 0, lon: 0 }, { time: 5, lat: 0, lon: 90 }, TravelConfig.parse({ minIntervalMs: 1 })).speedKmh)).toBe(true);
  });

  it('takes its threshold from config', () => {
    const strict = TravelConfig.parse({ maxSpeedKmh: 500 });
    expect(assessTravel({ time: 0, lat: 0, lon: 0 }, { time: 8 * MIN, lat: 0, lon: 1 }, strict).impossible).toBe(true);
    expect(() => TravelConfig.parse({ minIntervalMs: 0 })).toThrow();
  });
});

describe('travel features in the hot path', () => {
  const tokenizer = new Tokenizer({
    accountTokenKey: 'bb'.repeat(32),
    cardKeys: [{ id: 'k1', key: Buffer.alloc(32, 5).toString('base64') }],
    currentCardKeyId: 'k1',
  });
  let driver: TopologyTestDriver | undefined;
  afterEach(async () => {
    await driver?.close();
    driver = undefined;
  });

  async function harness(config: VelocityConfigInput = {}) {
    const topology = new Topology({ applicationId: 'travel-test' })
      .addSource('raw', 'raw-transactions', { keySerde: Serdes.String, valueSerde: Serdes.Json<Transaction>() })
      .addProcessor('ingress', ingressProcessor({}, { tokenizer }), 'raw')
      .addProcessor('velocity', velocityFeaturesProcessor(config), 'ingress')
      .addSink('ingress-dead-letters', 'dead-letters', { keySerde: Serdes.String, valueSerde: Serdes.Json<DeadLetter>() }, 'ingress')
      .addSink('out', 'features', { keySerde: Serdes.String, valueSerde: Serdes.Json<RiskContext>() }, 'velocity');
    for (const b of velocityStoreBuilders(config, { persistent: false })) topology.addStateStore(b, ['velocity']);
    driver = await TopologyTestDriver.create(topology);
    const input = driver.createInputTopic('raw-transactions', Serdes.String, Serdes.Json<Transaction>());
    const out = driver.createOutputTopic('features', Serdes.String, Serdes.Json<RiskContext>());
    let n = 0;
    return async (t: number, lat: number | null, lon: number | null, pan = '4111111111111111'): Promise<Record<string, number>> => {
      const value: Transaction = { ...EXAMPLES.Transaction, transactionId: `t${++n}`, accountId: 'ACC-1', pan, eventTime: t, lat, lon };
      await input.pipeInput(tokenizer.accountToken('ACC-1'), value, t + 5);
      return out.readValue()!.features;
    };
  }

  it('crosses the date line, flags a jump around the globe, floors Δt = 0, and skips unlocated ones', async () => {
    const pipe = await harness();
    const first = await pipe(T0, 0, 179.9);
    for (const name of TRAVEL_FEATURE_NAMES) expect(first[name], name).toBeUndefined(); // nothing earlier

    // 0.2° across the antimeridian in one hour: 22.239 km/h.
    const acrossDateLine = await pipe(T0 + HOUR, 0, -179.9);
    expect(acrossDateLine['travel.distance_km']).toBeCloseTo(22.239, 3);
    expect(acrossDateLine['travel.speed_kmh']).toBeCloseTo(22.239, 3);
    expect(acrossDateLine['travel.impossible']).toBe(0);

    // From -179.9 to 0 is 179.9° of longitude: R · 179.9° = 20 003.99 km in one hour.
    const aroundTheGlobe = await pipe(T0 + 2 * HOUR, 0, 0);
    expect(aroundTheGlobe['travel.distance_km']).toBeCloseTo(EARTH_RADIUS_KM * 179.9 * DEG, 6);
    expect(aroundTheGlobe['travel.speed_kmh']).toBeCloseTo(EARTH_RADIUS_KM * 179.9 * DEG, 6);
    expect(aroundTheGlobe['travel.impossible']).toBe(1);

    // Another card of the same account, same millisecond, 0.5° away (55.60 km): Δt floored to 1 min,
    // 55.60 · 60 = 3 335.8 km/h. Travel is per account, so the card does not matter.
    const sameInstant = await pipe(T0 + 2 * HOUR, 0, 0.5, '5555555555554444');
    expect(sameInstant['travel.distance_km']).toBeCloseTo(EARTH_RADIUS_KM * 0.5 * DEG, 9);
    expect(sameInstant['travel.speed_kmh']).toBeCloseTo(EARTH_RADIUS_KM * 0.5 * DEG * 60, 6);
    expect(sameInstant['travel.impossible']).toBe(1);

    // No location: no travel features, and it is not anyone's "previous located" transaction.
    const unlocated = await pipe(T0 + 2 * HOUR + MIN, null, null);
    for (const name of TRAVEL_FEATURE_NAMES) expect(unlocated[name], name).toBeUndefined();
    const after = await pipe(T0 + 2 * HOUR + 10 * MIN, 0, 0.5);
    expect(after['travel.distance_km']).toBe(0);
    expect(after['travel.speed_kmh']).toBe(0);
    expect(after['travel.impossible']).toBe(0);
  });

  it('uses the configured speed threshold', async () => {
    const pipe = await harness({ travel: { maxSpeedKmh: 20 } });
    await pipe(T0, 0, 179.9);
    expect((await pipe(T0 + HOUR, 0, -179.9))['travel.impossible']).toBe(1); // 22.2 km/h > 20
  });
});

/**
 * Impossible travel: how fast the cardholder would have had to move between the account's previous
 * located transaction (as of this transaction's event time) and this one. Finding that previous
 * transaction is the velocity state's job (velocity/entityView.ts); this file is the judgement.
 *
 * Δt = 0 (or a few seconds) is normal: two terminals' clocks disagree, and an ECOM geolocation
 * from an IP can be far off. Dividing by a raw Δt would turn a 5 km hop between two skewed
 * terminals into thousands of km/h, so Δt is floored at `minIntervalMs` (clock-skew tolerance):
 * the speed is distance / max(Δt, minIntervalMs) and is always a finite number.
 */
import { z } from 'zod';
import { type LatLon, haversineKm } from './geo.js';

export const TravelConfig = z.object({
  /** Faster than an airliner's cruise (~900 km/h) is not a journey one person made. */
  maxSpeedKmh: z.number().positive().default(900),
  /** Δt floor for the speed (see file comment). At least 1 ms, so the speed is always finite. */
  minIntervalMs: z.number().int().positive().default(60_000),
});
export type TravelConfigInput = z.input<typeof TravelConfig>;
export type TravelConfig = z.output<typeof TravelConfig>;

export const TRAVEL_FEATURES = {
  distanceKm: 'travel.distance_km',
  speedKmh: 'travel.speed_kmh',
  impossible: 'travel.impossible',
} as const;

export const TRAVEL_FEATURE_NAMES: readonly string[] = Object.values(TRAVEL_FEATURES);

export interface LocatedEvent extends LatLon {
  /** Event time, epoch ms. */
  time: number;
}

export interface TravelAssessment {
  distanceKm: number;
  speedKmh: number;
  impossible: boolean;
}

const MS_PER_HOUR = 3_600_000;

/** `previous` must not be later than `current` (the caller looks it up as of current.time). */
export function assessTravel(previous: LocatedEvent, current: LocatedEvent, config: TravelConfig): TravelAssessment {
  const distanceKm = haversineKm(previous, current);
  const hours = Math.max(current.time - previous.time, config.minIntervalMs) / MS_PER_HOUR;
  const speedKmh = distanceKm / hours;
  return { distanceKm, speedKmh, impossible: speedKmh > config.maxSpeedKmh };
}

/** The travel features of an assessment (booleans as 0/1, per RiskContext.features). */
export function travelFeatures(a: TravelAssessment): Record<string, number> {
  return {
    [TRAVEL_FEATURES.distanceKm]: a.distanceKm,
    [TRAVEL_FEATURES.speedKmh]: a.speedKmh,
    [TRAVEL_FEATURES.impossible]: a.impossible ? 1 : 0,
  };
}

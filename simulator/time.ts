/**
 * When in the day and week people pay. Event times are drawn in the local time of the place of
 * the transaction and converted to UTC with the city's fixed offset.
 */
import type { Random } from './random.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * Relative activity per local hour (0-23) for card-present payments: almost nothing between 2 and
 * 5 am, a lunch peak and a larger early-evening one. Shaped after published hourly card-spend
 * curves; the exact values are the simulator's choice.
 */
export const POS_HOURLY_WEIGHTS: readonly number[] = [
  0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.6, 0.9, 1.0, 1.1, 1.3, 1.6, 1.4, 1.1, 1.1, 1.2, 1.5, 1.7, 1.6, 1.3, 0.9, 0.6, 0.3,
];

/** Online shopping is flatter and peaks later in the evening. */
export const ONLINE_HOURLY_WEIGHTS: readonly number[] = [
  0.35, 0.2, 0.12, 0.08, 0.08, 0.12, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.5, 1.7, 1.6, 1.2, 0.7,
];

/** Monday first (the UTC weekday of the day the transaction falls on). */
export const WEEKDAY_FACTORS: readonly number[] = [0.95, 0.95, 1.0, 1.0, 1.1, 1.15, 0.85];

/** Monday = 0 … Sunday = 6. */
export function weekdayOf(utcMs: number): number {
  return (new Date(utcMs).getUTCDay() + 6) % 7;
}

/** A local time of day in ms (0 … DAY) drawn from an hourly profile, uniform within the hour. */
export function drawTimeOfDay(rng: Random, hourlyWeights: readonly number[]): number {
  const hour = rng.weightedIndex(hourlyWeights);
  return hour * HOUR + Math.floor(rng.next() * HOUR);
}

/**
 * The UTC instant on the UTC day starting at `dayStartUtc` whose local time of day (at the given
 * offset) is `localMs`. Wrapping within the day keeps every transaction inside its simulated day
 * and the local-hour profile exact.
 */
export function utcOnDay(dayStartUtc: number, localMs: number, utcOffsetHours: number): number {
  const utcMs = localMs - utcOffsetHours * HOUR;
  return dayStartUtc + (((utcMs % DAY) + DAY) % DAY);
}

/** The local hour (0-23) of an instant at a fixed UTC offset. */
export function localHourOf(utcMs: number, utcOffsetHours: number): number {
  const local = utcMs + utcOffsetHours * HOUR;
  return Math.floor((((local % DAY) + DAY) % DAY) / HOUR);
}

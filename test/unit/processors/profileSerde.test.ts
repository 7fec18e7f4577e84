import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS, type Profile, type ProfileArchive, type ProfileLimits, profileParts, recordEvent } from '../../../processors/velocity/profile.js';
import { Serdes } from '../../../topology/serde.js';

const profileSerde = () => Serdes.Packed<Profile | ProfileArchive>();

const limits: ProfileLimits = { horizonMs: 7 * DAY_MS, dayHorizonMs: 90 * DAY_MS, maxEvents: 50, maxDistinctPerBucket: 8, daySets: true };

/** A profile as the velocity step builds it: 100 days of traffic on two cards, folded hours past the cap. */
function builtProfile(): Profile {
  // Without an archive: every day stays in the profile, the largest value the store can hold.
  return builtParts(false).profile;
}

function builtParts(archiving = true): { profile: Profile; archive: ProfileArchive } {
  const parts = profileParts(undefined, undefined);
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 1_200; i++) {
    const t = t0 + i * 2 * HOUR_MS + (i % 7) * 61_003;
    const located = i % 5 !== 0;
    recordEvent(parts, i % 3 === 0 ? 'tok_card_b' : 'tok_card_a', {
      t,
      amount: 1_000 + ((i * 7919) % 250_000),
      merchant: `m${i % 23}`,
      country: i % 11 === 0 ? 'DE' : 'FR',
      lat: located ? 48.8566 + i / 1e4 : null,
      lon: located ? 2.3522 - i / 3e4 : null,
    }, limits);
    if (!archiving && parts.archive !== undefined) {
      // As profiles were before the archive: every day in the profile.
      parts.profile.days.unshift(...parts.archive);
      parts.archive = undefined;
      delete parts.profile.archived;
    }
  }
  return { profile: parts.profile, archive: { archive: parts.archive ?? [] } };
}

describe('velocity profiles through Serdes.Packed', () => {
  it('round-trips a built profile exactly, doubles and nulls included', () => {
    const serde = profileSerde();
    const profile = builtProfile();
    expect(profile.days.length).toBeGreaterThan(80);
    expect(profile.hours.length).toBeGreaterThan(0);
    const back = serde.deserialize(serde.serialize(profile));
    expect(back).toStrictEqual(profile);
    // A second serde (another instance restoring the changelog) reads it without shared state.
    expect(profileSerde().deserialize(serde.serialize(profile))).toStrictEqual(profile);
  });

  it('round-trips a profile and its archive (older days under a key of their own)', () => {
    const serde = profileSerde();
    const { profile, archive } = builtParts();
    expect(profile.archived).toBe(true);
    expect(archive.archive.length).toBeGreaterThan(70);
    expect(profile.days.length).toBeLessThanOrEqual(2 + 7);
    expect(serde.deserialize(serde.serialize(profile))).toStrictEqual(profile);
    expect(serde.deserialize(serde.serialize(archive))).toStrictEqual(archive);
    // The point of the archive: the part rewritten per transaction is a fraction of the whole.
    expect(serde.serialize(profile).length).toBeLessThan(serde.serialize(builtProfile()).length / 3);
  });

  it('is smaller than the JSON it replaces', () => {
    const profile = builtProfile();
    const packed = profileSerde().serialize(profile).length;
    const json = Buffer.byteLength(JSON.stringify(profile));
    expect(packed).toBeLessThan(json * 0.75);
  });

  it('still reads profiles written as JSON by earlier versions', () => {
    const profile = builtProfile();
    const legacy = Buffer.from(JSON.stringify(profile), 'utf8');
    expect(profileSerde().deserialize(legacy)).toStrictEqual(profile);
  });
});

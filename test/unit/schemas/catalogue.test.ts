import { describe, expect, it } from 'vitest';
import { CatalogueConfig, SCHEMA_NAMES, TOPIC_IDS, buildCatalogue, catalogueTopics } from '../../../schemas/index.js';

const DAY = 86_400_000;

describe('topic catalogue', () => {
  const catalogue = buildCatalogue();
  const topics = catalogueTopics(catalogue);

  it('names every topic with the default riskloop. prefix, uniquely', () => {
    expect(topics.map((t) => t.name)).toEqual(TOPIC_IDS.map((id) => catalogue[id].name));
    expect(new Set(topics.map((t) => t.name)).size).toBe(topics.length);
    for (const t of topics) expect(t.name.startsWith('riskloop.')).toBe(true);
    expect(catalogue.transactions.name).toBe('riskloop.transactions');
  });

  it('covers every schema except none: each schema has a topic', () => {
    expect(new Set(topics.map((t) => t.valueSchema))).toEqual(new Set(SCHEMA_NAMES));
  });

  it('co-partitions every account-token-keyed topic on the configured count', () => {
    const c = buildCatalogue({ partitions: 12 });
    const accountKeyed = catalogueTopics(c).filter((t) => t.key === 'accountToken');
    expect(accountKeyed.map((t) => t.id).sort()).toEqual(
      [
        'analystOutcomes',
        'challengeResults',
        'chargebacks',
        'chargebacksTokenized',
        'decisions',
        'kyc',
        'screeningHits',
        'trainingExamples',
        'transactions',
        'transactionsTokenized',
      ].sort(),
    );
    for (const t of accountKeyed) expect(t.partitions, t.id).toBe(12);
    expect(c.modelReleases.partitions).toBe(1);
  });

  it('compacts the tables and only the tables', () => {
    const compacted = topics.filter((t) => t.cleanupPolicy === 'compact').map((t) => t.id);
    expect(compacted.sort()).toEqual(['entityStats', 'kyc', 'modelReleases']);
    for (const t of topics) {
      expect(t.configs['cleanup.policy']).toBe(t.cleanupPolicy);
      if (t.cleanupPolicy === 'compact') expect(t.configs['retention.ms']).toBeUndefined();
      else expect(Number(t.configs['retention.ms'])).toBe(t.retentionMs);
    }
  });

  it('keeps the PAN topic short-lived, with segments small enough for retention to bite', () => {
    const pan = topics.filter((t) => t.containsPan);
    expect(pan.map((t) => t.id)).toEqual(['transactions']);
    expect(catalogue.transactions.retentionMs).toBeLessThanOrEqual(DAY);
    expect(Number(catalogue.transactions.configs['segment.ms'])).toBeLessThan(catalogue.transactions.retentionMs!);
  });

  it('keeps training examples longest and decisions past the chargeback window', () => {
    const longest = Math.max(...topics.map((t) => t.retentionMs ?? 0));
    expect(catalogue.trainingExamples.retentionMs).toBe(longest);
    expect(catalogue.decisions.retentionMs).toBeGreaterThanOrEqual(120 * DAY);
  });

  it('validates its configuration', () => {
    expect(() => buildCatalogue({ prefix: 'bad prefix/' })).toThrow(/prefix/);
    expect(() => buildCatalogue({ partitions: 0 })).toThrow();
    expect(CatalogueConfig.parse({})).toEqual({ prefix: 'riskloop.', partitions: 6, keepHistory: false });
    expect(buildCatalogue({ prefix: 't1.', replicationFactor: 3 }).alerts).toMatchObject({ name: 't1.alerts', replicationFactor: 3 });
  });

  it('keeps history only when asked (simulations with old event times), and never touches compacted topics', () => {
    expect(buildCatalogue().transactions.configs['retention.ms']).toBe(String(24 * 3_600_000));
    const kept = buildCatalogue({ keepHistory: true });
    expect(kept.transactions.configs['retention.ms']).toBe('-1');
    expect(kept.decisions.configs['retention.ms']).toBe('-1');
    expect(kept.kyc.configs['retention.ms']).toBeUndefined();
    // No hourly segments when nothing is deleted: replayed history would open a file per event-time hour.
    expect(kept.transactions.configs['segment.ms']).toBeUndefined();
    expect(buildCatalogue().transactions.configs['segment.ms']).toBe(String(3_600_000));
  });
});

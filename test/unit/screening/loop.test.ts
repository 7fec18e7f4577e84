/**
 * Screening in the loop, through the test driver: a KYC record with a holder name is screened at
 * ingress, the hit becomes a screening-hits record and a fact the rules decide on, the name is in
 * clear nowhere past ingress, and a new list version re-screens every account and writes hits for
 * new hits only.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelRegistry, specFromModelCard } from '../../../processors/modelRegistry.js';
import { riskLoopErrorHandlers, riskLoopTopology } from '../../../processors/riskLoop.js';
import { RuleSetHolder } from '../../../processors/rules.js';
import { ScreeningCounters, SCREENING_STORE } from '../../../processors/screening/kycScreening.js';
import { SanctionsListHolder } from '../../../processors/screening/listHolder.js';
import { NameSealer } from '../../../processors/screening/sealedName.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import { buildCatalogue } from '../../../schemas/catalogue.js';
import type { Decision, KycRecord, ScreeningHit } from '../../../schemas/types.js';
import { type ListEntry, type SanctionsList, loadList } from '../../../screening/lists.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { expectedPartition } from '../../../processors/partitionCheck.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import { TEST_TOKENIZER_CONFIG, localAvroSerde, localRiskLoopSerdes, testTransaction } from '../../support/riskLoopFixture.js';

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const RECHECK_MS = 30_000;
const OFAC = loadList('screening/lists/sample-ofac-sdn.csv');

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function withEntries(base: SanctionsList, extra: ListEntry[], id: string): SanctionsList {
  return { ...base, version: { ...base.version, id }, entries: [...base.entries, ...extra] };
}

async function setup(opts: { sealer?: NameSealer | null; noScreening?: boolean; partitions?: number } = {}) {
  const logger = pino({ level: 'silent' });
  const partitions = opts.partitions ?? 1;
  const catalogue = buildCatalogue({ prefix: 'test.', partitions });
  const serdes = localRiskLoopSerdes();
  const tokenizer = new Tokenizer(TEST_TOKENIZER_CONFIG);
  const rules = await RuleSetHolder.fromFile('rules/ruleset.json', {}, logger);
  const models = new ModelRegistry(logger);
  await models.setChampion(await specFromModelCard('models/bootstrap-v1.card.json'));
  const lists = new SanctionsListHolder(OFAC);
  const counters = new ScreeningCounters();
  const sealer = opts.sealer === undefined ? new NameSealer(randomBytes(32)) : opts.sealer;
  const hitsSerde = localAvroSerde<ScreeningHit>('ScreeningHit');
  const topology = riskLoopTopology(
    { persistentStores: false },
    { catalogue, serdes, tokenizer, rules, models, logger, ...(opts.noScreening ? {} : { screening: { lists, sealer, hitsSerde, counters, config: { recheckIntervalMs: RECHECK_MS } } }) },
  );
  driver = await TopologyTestDriver.create(topology, { errorHandlers: riskLoopErrorHandlers(catalogue, serdes.deadLetters, tokenizer), logger, initialWallClockTimeMs: T0, defaultPartitions: partitions });
  const d = driver;
  const kycIn = d.createInputTopic(catalogue.kyc.name, Serdes.String, serdes.kyc);
  const txIn = d.createInputTopic(catalogue.transactions.name, Serdes.String, serdes.transactions);
  const hits = d.createOutputTopic(catalogue.screeningHits.name, Serdes.String, hitsSerde);
  const decisions = d.createOutputTopic(catalogue.decisions.name, Serdes.String, serdes.decisions);
  const account = (id: string) => tokenizer.accountToken(id);
  const kyc = async (accountId: string, holderName: string | null, over: Partial<KycRecord> = {}, at = T0) => {
    const token = account(accountId);
    const record: KycRecord = {
      accountToken: token,
      entityType: 'PERSON',
      status: 'VERIFIED',
      riskTier: 'MEDIUM',
      accountOpenedAt: T0 - 400 * 86_400_000,
      pep: false,
      sanctioned: false,
      watchlistHits: 0,
      country: 'DE',
      updatedAt: at,
      holderName,
      ...over,
    };
    await kycIn.pipeInput(token, record, at);
  };
  const pay = async (accountId: string, transactionId: string, at: number) => {
    await txIn.pipeInput(account(accountId), testTransaction({ transactionId, eventTime: at, accountId }), at);
    const out = decisions.readValuesToList() as Decision[];
    expect(out).toHaveLength(1);
    return out[0]!;
  };
  return { d, catalogue, serdes, lists, counters, sealer, hits, kyc, pay, account };
}

/** Every byte the driver holds in any topic (changelogs and repartition topics included), as text. */
function allTopicText(d: TopologyTestDriver, except: string): string {
  return d
    .topicNames()
    .filter((t) => t !== except)
    .flatMap((t) => d.readRaw(t).map((r) => `${r.key?.toString('latin1') ?? ''} ${r.value?.toString('latin1') ?? ''}`))
    .join('\n');
}

describe('screening on KYC arrival', () => {
  it('a strong hit is a screening-hits record and a DECLINE by rule; a looser one a REVIEW; no hit changes nothing', async () => {
    const { d, catalogue, hits, kyc, pay, account } = await setup();
    await kyc('ACC-A', 'Ivan Sergeyevich Petrow');
    await kyc('ACC-B', 'Jonathan Baker');
    await kyc('ACC-C', 'Maria Garcia');

    const written = hits.readRecordsToList();
    expect(written.map((r) => [r.key, r.value!.listEntryId, r.value!.trigger, r.value!.score])).toEqual([
      [account('ACC-A'), 'ofac:90001', 'KYC_UPDATE', 0.978],
      [account('ACC-B'), 'ofac:90012', 'KYC_UPDATE', 0.9],
    ]);
    const a = written[0]!.value!;
    expect(a).toMatchObject({
      listEntryName: 'PETROV, Ivan Sergeyevich',
      matchedName: 'PETROV, Ivan Sergeyevich',
      matchedAlias: false,
      listKind: 'SANCTION',
      programs: ['FICT-RUSSIA', 'FICT-CYBER'],
      threshold: 0.85,
      listVersion: OFAC.version.id,
      hitId: `${account('ACC-A')}|ofac:90001|${OFAC.version.id}`,
      screenedAt: T0,
    });
    expect(a.pairs.map((p) => [p.queryIndex, p.listToken, p.how])).toEqual([
      [0, 'ivan', 'exact'],
      [1, 'sergeyevich', 'exact'],
      [2, 'petrov', 'jaro-winkler'],
    ]);
    expect(a.holderNameSealed).toMatch(/^v1\.[0-9a-f]{8}\./);

    const declined = await pay('ACC-A', 'tx-a', T0 + 60_000);
    expect(declined.decision).toBe('DECLINE');
    expect(declined.reasonCodes).toContain('SANCTIONS_SCREENING_MATCH');
    expect(declined.features['screening.sanctions_score']).toBe(0.978);
    expect(declined.facts['screening.sanctions_entry']).toBe('ofac:90001');

    const reviewed = await pay('ACC-B', 'tx-b', T0 + 61_000);
    expect(reviewed.reasonCodes).toContain('SANCTIONS_SCREENING_POSSIBLE');
    expect(reviewed.reasonCodes).not.toContain('SANCTIONS_SCREENING_MATCH');
    expect(['REVIEW', 'DECLINE']).toContain(reviewed.decision);

    const clean = await pay('ACC-C', 'tx-c', T0 + 62_000);
    expect(clean.reasonCodes.filter((c) => c.includes('SCREENING'))).toEqual([]);
    expect(clean.features['screening.sanctions_hit']).toBe(0);
    expect(clean.features['screening.screened']).toBe(1);

    // The names are in the kyc input topic (ingress) and nowhere else: not in the KYC table's or the
    // screening store's changelog, not in hits, decisions or dead letters.
    const past = allTopicText(d, catalogue.kyc.name);
    for (const name of ['Petrow', 'Jonathan Baker', 'Maria Garcia', 'Garcia']) expect(past).not.toContain(name);
    expect(d.topicNames().some((t) => t.includes(SCREENING_STORE))).toBe(true);
  });

  it('the same name again is no new hit; a KYC update without a name keeps the account screened; a tombstone clears it', async () => {
    const { d, catalogue, hits, kyc, pay } = await setup();
    await kyc('ACC-A', 'Ivan Petrov');
    expect(hits.readValuesToList().map((h) => h!.listEntryId)).toEqual(['ofac:90001']);
    await kyc('ACC-A', 'Ivan Petrov', {}, T0 + 1_000);
    await kyc('ACC-A', null, { riskTier: 'HIGH' }, T0 + 2_000);
    expect(hits.readValuesToList()).toEqual([]);
    expect((await pay('ACC-A', 'tx-1', T0 + 3_000)).features['screening.sanctions_hit']).toBe(1);
    await d.pipeRaw(catalogue.kyc.name, { key: Buffer.from(new Tokenizer(TEST_TOKENIZER_CONFIG).accountToken('ACC-A')), value: null, timestamp: T0 + 4_000 });
    const after = await pay('ACC-A', 'tx-2', T0 + 5_000);
    expect(after.features['screening.screened']).toBe(0);
    expect(after.reasonCodes.filter((c) => c.includes('SCREENING'))).toEqual([]);
  });

  it('without screening configured the KYC table still drops the name: not in its changelog, no screening facts', async () => {
    const { d, catalogue, kyc, pay } = await setup({ noScreening: true });
    await kyc('ACC-A', 'Ivan Sergeyevich Petrow');
    const decided = await pay('ACC-A', 'tx-a', T0 + 1_000);
    expect(decided.features['screening.sanctions_score']).toBeUndefined();
    expect(d.topicNames().some((t) => t.includes('kyc-changelog'))).toBe(true);
    expect(allTopicText(d, catalogue.kyc.name)).not.toContain('Petrow');
  });

  it.each([
    ['with a key, the name crosses sealed and is screened where the account lives', true],
    ['without a key, the name does not cross at all (screened at the next KYC update)', false],
  ])('a KYC record on the wrong partition is re-routed through an internal topic: %s', async (_label, withKey) => {
    const { d, catalogue, serdes, hits, account } = await setup({ partitions: 6, ...(withKey ? {} : { sealer: null }) });
    const token = account('ACC-A');
    const wrong = (expectedPartition(token, 6) + 1) % 6;
    const record: KycRecord = { ...EXAMPLES.KycRecord, accountToken: token, updatedAt: T0, holderName: 'Ivan Sergeyevich Petrow' };
    await d.pipeRaw(catalogue.kyc.name, { key: Buffer.from(token), value: serdes.kyc.serialize(record, catalogue.kyc.name), timestamp: T0, partition: wrong });
    const rerouted = d.topicNames().filter((t) => t.includes('rerouted'));
    expect(rerouted.length).toBeGreaterThan(0);
    expect(rerouted.flatMap((t) => d.readRaw(t)).length).toBe(1);
    expect(allTopicText(d, catalogue.kyc.name)).not.toContain('Petrow');
    expect(hits.readValuesToList().map((h) => h!.listEntryId)).toEqual(withKey ? ['ofac:90001'] : []);
    expect(d.getKeyValueStore('kyc', expectedPartition(token, 6)).get(token)).toMatchObject({ accountToken: token, holderName: null });
  });

  it('a business is screened against organisations: its name matches the company, a person of that name does not', async () => {
    const { hits, kyc } = await setup();
    await kyc('ACC-B1', 'Northwind Maritime Trading Ltd', { entityType: 'BUSINESS' });
    await kyc('ACC-P1', 'Marina Star');
    expect(hits.readValuesToList().map((h) => h!.listEntryId)).toEqual(['ofac:90003']);
  });
});

describe('re-screening on a new list version', () => {
  it('every account is screened again and only new hits are written; the next check writes nothing', async () => {
    const { d, lists, counters, hits, kyc, pay } = await setup();
    await kyc('ACC-A', 'Ivan Petrov');
    await kyc('ACC-D', 'Elena Vasilyevna Sokolova');
    await kyc('ACC-E', 'Peter Brown');
    expect(hits.readValuesToList().map((h) => h!.listEntryId)).toEqual(['ofac:90001']);
    expect((await pay('ACC-D', 'tx-d1', T0 + 1_000)).features['screening.sanctions_hit']).toBe(0);

    // Nothing changes until the list does.
    await d.advanceWallClockTime(RECHECK_MS);
    expect(hits.readValuesToList()).toEqual([]);

    const sokolova: ListEntry = { id: 'ofac:99001', name: 'SOKOLOVA, Elena Vasilyevna', aliases: [], programs: ['FICT-NEW'], kind: 'SANCTION', entityType: 'individual' };
    expect(lists.replace(withEntries(OFAC, [sokolova], 'v2-test'))).toBe(true);
    await d.advanceWallClockTime(RECHECK_MS);
    const rescreen = hits.readRecordsToList();
    expect(rescreen.map((r) => [r.value!.accountToken === r.key, r.value!.listEntryId, r.value!.trigger, r.value!.listVersion])).toEqual([[true, 'ofac:99001', 'LIST_UPDATE', 'v2-test']]);
    expect(rescreen[0]!.value!.screenedAt).toBe(T0 + 2 * RECHECK_MS);
    expect(counters.rescreened).toBe(3);

    const d2 = await pay('ACC-D', 'tx-d2', T0 + 2 * RECHECK_MS + 1_000);
    expect(d2.decision).toBe('DECLINE');
    expect(d2.facts['screening.sanctions_entry']).toBe('ofac:99001');

    await d.advanceWallClockTime(RECHECK_MS);
    expect(hits.readValuesToList()).toEqual([]);

    // A third version adds an alias that makes ACC-A match a second entry: only that one is new.
    const petrovAlias: ListEntry = { id: 'ofac:99002', name: 'PETROV TRADING HOUSE', aliases: ['PETROV, Ivan'], programs: ['FICT-NEW'], kind: 'SANCTION', entityType: 'individual' };
    lists.replace(withEntries(OFAC, [sokolova, petrovAlias], 'v3-test'));
    await d.advanceWallClockTime(RECHECK_MS);
    expect(hits.readValuesToList().map((h) => [h!.listEntryId, h!.matchedName, h!.matchedAlias])).toEqual([['ofac:99002', 'PETROV, Ivan', true]]);
  });

  it('without a sealing key no name is kept: a new list version applies at the account\'s next KYC update', async () => {
    const { d, lists, hits, kyc } = await setup({ sealer: null });
    await kyc('ACC-D', 'Elena Vasilyevna Sokolova');
    const sokolova: ListEntry = { id: 'ofac:99001', name: 'SOKOLOVA, Elena Vasilyevna', aliases: [], programs: ['FICT-NEW'], kind: 'SANCTION', entityType: 'individual' };
    lists.replace(withEntries(OFAC, [sokolova], 'v2-test'));
    await d.advanceWallClockTime(RECHECK_MS);
    expect(hits.readValuesToList()).toEqual([]);
    await kyc('ACC-D', 'Elena Vasilyevna Sokolova', {}, T0 + 5 * RECHECK_MS);
    expect(hits.readValuesToList().map((h) => [h!.listEntryId, h!.trigger, h!.holderNameSealed])).toEqual([['ofac:99001', 'KYC_UPDATE', null]]);
  });

  it('a sealed name under a key no longer configured is not re-screened (counted), and is at the next KYC update', async () => {
    // A sealer whose key can change under the running loop: what a key rotation without re-sealing leaves.
    class Swappable extends NameSealer {
      inner = new NameSealer(randomBytes(32));
      override seal(name: string, token: string): string {
        return this.inner.seal(name, token);
      }
      override open(sealed: string, token: string): string | null {
        return this.inner.open(sealed, token);
      }
    }
    const sealer = new Swappable(randomBytes(32));
    const { d, lists, counters, hits, kyc } = await setup({ sealer });
    await kyc('ACC-D', 'Elena Vasilyevna Sokolova');
    sealer.inner = new NameSealer(randomBytes(32));
    lists.replace(withEntries(OFAC, [{ id: 'ofac:99001', name: 'SOKOLOVA, Elena Vasilyevna', aliases: [], programs: ['FICT-NEW'], kind: 'SANCTION', entityType: 'individual' }], 'v2-test'));
    await d.advanceWallClockTime(RECHECK_MS);
    expect(hits.readValuesToList()).toEqual([]);
    expect(counters.unopenable).toBe(1);
    await d.advanceWallClockTime(RECHECK_MS);
    expect(counters.unopenable).toBe(1);
    await kyc('ACC-D', 'Elena Vasilyevna Sokolova', {}, T0 + 5 * RECHECK_MS);
    expect(hits.readValuesToList().map((h) => [h!.listEntryId, h!.trigger])).toEqual([['ofac:99001', 'KYC_UPDATE']]);
  });
});

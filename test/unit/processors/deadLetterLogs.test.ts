/**
 * One log line per dead letter, on every path that writes one: the runtime's error handlers
 * (deserialization, processing), ingress rejections and labels for unknown transactions. Each line
 * says why (reason) and where the record came from (topic/partition/offset), carries
 * `event: 'dead-letter'` so one query finds them all, and never a PAN or a clear account id.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { maskPans } from '../../../schemas/redactPan.js';
import type { Chargeback, DeadLetter, Transaction } from '../../../schemas/types.js';
import { Named, Serdes, StreamsBuilder, Consumed, Produced, TopologyTestDriver, defaultErrorHandlers, sendToDeadLetter } from '../../../topology/index.js';
import { riskLoopFixture } from '../../support/riskLoopFixture.js';

const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);
const PAN = '4111111111111111';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function capturingLogger() {
  const raw: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
  const lines = () => raw.map((l) => JSON.parse(l) as { msg: string; event?: string; [k: string]: unknown });
  return { logger, raw, lines };
}

describe('dead-letter log lines', () => {
  it('the runtime logs each dead letter with its reason and position, error text masked by the handlers', async () => {
    const { logger, raw, lines } = capturingLogger();
    const builder = new StreamsBuilder();
    builder
      .stream('cards', Consumed.with(Serdes.String, Serdes.Json<{ pan: string }>(), { name: 'cards-source' }))
      .mapValues((v): string => {
        // An error that quotes the record: exactly what must not reach a log line unmasked.
        throw Object.assign(new Error(`card ${v.pan} refused`), { reason: 'CARD_REFUSED' });
      }, Named.as('check'))
      .to('out', Produced.with(Serdes.String, Serdes.String));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'dl' }), {
      errorHandlers: {
        ...defaultErrorHandlers,
        processing: sendToDeadLetter,
        deserialization: sendToDeadLetter,
        deadLetterTopic: 'dl-dlq',
        redactLogText: (t) => maskPans(Buffer.from(t, 'utf8')).bytes.toString('utf8'),
      },
      logger,
    });
    await driver.pipeRaw('cards', { key: Buffer.from('k1'), value: Buffer.from(JSON.stringify({ pan: PAN })), timestamp: 10 });
    await driver.pipeRaw('cards', { key: Buffer.from('k2'), value: Buffer.from('{not json'), timestamp: 20 });

    expect(driver.readRaw('dl-dlq')).toHaveLength(2);
    const logged = lines().filter((l) => l.event === 'dead-letter');
    expect(logged).toEqual([
      expect.objectContaining({ msg: 'record sent to dead-letter topic', reason: 'CARD_REFUSED', phase: 'PROCESSING', topic: 'cards', partition: 0, offset: 0, taskId: '0_0', processor: 'check', error: 'card 411111******1111 refused' }),
      expect.objectContaining({ msg: 'record sent to dead-letter topic', reason: 'DESERIALIZATION', phase: 'DESERIALIZATION', topic: 'cards', partition: 0, offset: 1, processor: 'cards-source' }),
    ]);
    expect(raw.join('\n')).not.toContain(PAN);
  });

  it('the risk loop logs every dead letter it writes, from every path, without PAN or account id', async () => {
    const { logger, raw, lines } = capturingLogger();
    const f = await riskLoopFixture({ logger });
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers, logger });
    const t = f.catalogue;
    const transactions = driver.createInputTopic(t.transactions.name, Serdes.String, f.serdes.transactions);
    const chargebacks = driver.createInputTopic(t.chargebacks.name, Serdes.String, f.serdes.chargebacks);
    const letters = driver.createOutputTopic(t.deadLetters.name, Serdes.String, f.serdes.deadLetters);
    const account = 'ACC-DL-0001';
    const token = f.tokenizer.accountToken(account);
    const tx: Transaction = {
      transactionId: 'tx-ok',
      eventTime: T0,
      accountId: account,
      pan: PAN,
      amountMinor: 2_500,
      currency: 'EUR',
      merchantId: 'M-1',
      merchantName: 'Bakery',
      terminalId: 'T-1',
      mcc: '5411',
      merchantCountry: 'DE',
      channel: 'POS',
      cardPresent: true,
      threeDsAuthenticated: null,
      lat: 52.52,
      lon: 13.405,
      deviceId: 'dev-1',
      ip: null,
    };
    await transactions.pipeInput(token, tx, T0);
    // Ingress path: fails Luhn.
    await transactions.pipeInput(token, { ...tx, transactionId: 'tx-luhn', pan: '4111111111111112' }, T0 + 1000);
    // Deserialization path (runtime handler): bytes that are no Transaction, with a PAN in them.
    await driver.pipeRaw(t.transactions.name, { key: Buffer.from(token), value: Buffer.from(`\u00ff\u00ff${PAN} ${account}`, 'latin1'), timestamp: T0 + 2000 });
    const cb: Chargeback = { chargebackId: 'cb-1', transactionId: 'tx-ok', accountId: account, reasonCode: '10.4', amountMinor: 2500, currency: 'EUR', reportedAt: T0 + 3000, fraud: true };
    // Chargeback ingress path: the key is not the token of the chargeback's account.
    await chargebacks.pipeInput(f.tokenizer.accountToken('ACC-OTHER'), cb, cb.reportedAt);
    // Processing path (runtime handler): a KYC row keyed by another account's token.
    const kyc = driver.createInputTopic(t.kyc.name, Serdes.String, f.serdes.kyc);
    await kyc.pipeInput(f.tokenizer.accountToken('ACC-OTHER'), { accountToken: token, entityType: 'PERSON', status: 'VERIFIED', riskTier: 'LOW', accountOpenedAt: T0 - 1000, pep: false, sanctioned: false, watchlistHits: 0, country: 'DE', updatedAt: T0 + 2500 }, T0 + 2500);
    // Label path: a chargeback for a transaction this loop never decided.
    await chargebacks.pipeInput(token, { ...cb, chargebackId: 'cb-2', transactionId: 'tx-never' }, cb.reportedAt + 1);

    const written = letters.readValuesToList() as DeadLetter[];
    expect(written).toHaveLength(5);
    const logged = lines().filter((l) => l.event === 'dead-letter');
    expect(logged).toHaveLength(written.length);
    // Each letter has its line: same reason, same source position.
    for (const letter of written) {
      const line = logged.find((l) => (l.sourceTopic ?? l.topic) === letter.sourceTopic && l.partition === letter.partition && l.offset === letter.offset);
      expect(line, `${letter.reason} at ${letter.sourceTopic}/${letter.partition}/${letter.offset}`).toBeDefined();
      expect(line!.reason).toBe(letter.reason);
    }
    expect(logged.find((l) => l.msg === 'transaction rejected at ingress')).toMatchObject({ transactionId: 'tx-luhn', reason: 'INVALID_PAN_LUHN' });
    expect(logged.find((l) => l.msg === 'label for no known decision snapshot')).toMatchObject({ transactionId: 'tx-never', reason: 'UNKNOWN_TRANSACTION' });
    expect(logged.find((l) => l.msg === 'chargeback rejected at ingress')).toMatchObject({ reason: 'ACCOUNT_TOKEN_MISMATCH' });
    expect(logged.filter((l) => l.msg === 'record sent to dead-letter topic').map((l) => l.phase).sort()).toEqual(['DESERIALIZATION', 'PROCESSING']);
    const all = raw.join('\n');
    for (const secret of [PAN, '4111111111111112', account, 'ACC-OTHER']) expect(all).not.toContain(secret);
  });
});

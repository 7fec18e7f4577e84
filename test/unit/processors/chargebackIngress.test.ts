/**
 * Chargeback ingress through the whole loop in the driver: a refused chargeback becomes a dead
 * letter built by ingress itself, with the clear account id replaced by its token (in the key and
 * the value) and card numbers masked — never the raw record.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Chargeback, DeadLetter } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { riskLoopFixture } from '../../support/riskLoopFixture.js';

const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);
const PAN = '5105105105105100';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('chargeback ingress dead letters', () => {
  it('keep no clear account id and no card number, and say why', async () => {
    const f = await riskLoopFixture();
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const t = f.catalogue;
    const chargebacks = driver.createInputTopic(t.chargebacks.name, Serdes.String, f.serdes.chargebacks);
    const dead = driver.createOutputTopic(t.deadLetters.name, Serdes.String, f.serdes.deadLetters);
    const token = f.tokenizer.accountToken('ACC-SECRET-7');
    const cb: Chargeback = { chargebackId: 'cb-1', transactionId: 'tx-1', accountId: 'ACC-SECRET-7', reasonCode: '10.4', amountMinor: 2500, currency: 'EUR', reportedAt: T0, fraud: true };
    // Keyed by the clear account id (a producer that skipped the token), and a PAN in the transaction id.
    await chargebacks.pipeInput('ACC-SECRET-7', { ...cb, reasonCode: 'ACC-SECRET-7 disputes' }, T0);
    await chargebacks.pipeInput(token, { ...cb, chargebackId: 'cb-2', transactionId: `tx-${PAN}` }, T0 + 1);
    const letters = dead.readValuesToList() as DeadLetter[];
    expect(letters.map((l) => [l.reason, l.processor])).toEqual([
      ['ACCOUNT_TOKEN_MISMATCH', 'chargebacks-tokenize'],
      ['TRANSACTION_ID_CONTAINS_PAN', 'chargebacks-tokenize'],
    ]);
    for (const l of letters) {
      for (const part of [l.key, l.value, Buffer.from(l.message)]) {
        expect(part!.includes(Buffer.from('ACC-SECRET-7'))).toBe(false);
        expect(part!.includes(Buffer.from(PAN))).toBe(false);
      }
      expect(l.redacted).toBe(true);
    }
    // Still a decodable chargeback for whoever investigates: the account as its token.
    const kept = f.serdes.chargebacks.deserialize(letters[0]!.value!);
    expect(kept.accountId).toBe(token);
    expect(kept.reasonCode).toBe(`${token} disputes`);
    expect(letters[0]!.key!.toString()).toBe(token);
    expect(f.serdes.chargebacks.deserialize(letters[1]!.value!).transactionId).toBe('tx-510510******5100');
  });
});

/**
 * Prints the dead-letter digest (DeadLetter.reduced.sha256) of each file given: the way to match a
 * producer's copy of a record against a dead letter that describes it instead of carrying it
 * (docs/operations.md, "Dead letters"). The account-token key comes from RISKLOOP_ACCOUNT_TOKEN_KEY
 * or RISKLOOP_ACCOUNT_TOKEN_KEY_FILE, never from an argument (it would show in `ps`).
 *
 *   RISKLOOP_ACCOUNT_TOKEN_KEY_FILE=/run/keys/account-token-key npx tsx bin/deadLetterDigest.ts record.bin
 */
import { readFileSync } from 'node:fs';
import { Tokenizer } from '../processors/tokenizer.js';
import { accountTokenKeysFromEnv } from './tokenKeys.js';

const files = process.argv.slice(2);
const { accountTokenKey } = accountTokenKeysFromEnv(process.env);
if (files.length === 0 || accountTokenKey === undefined) {
  process.stderr.write('usage: RISKLOOP_ACCOUNT_TOKEN_KEY_FILE=<key file> tsx bin/deadLetterDigest.ts <value file>...\n');
  process.exit(2);
}
// The tokenizer needs a card key to be built; a throwaway one, never used here.
const tokenizer = new Tokenizer({ accountTokenKey, cardKeys: [{ id: 'unused', key: 'ff'.repeat(32) }], currentCardKeyId: 'unused' });
for (const file of files) process.stdout.write(`${tokenizer.deadLetterDigest(readFileSync(file))}  ${file}\n`);

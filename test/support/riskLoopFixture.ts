/**
 * Builds the risk loop for tests: real tokenizer, rule file, bootstrap ONNX model and processors;
 * serdes are either plain Avro without the registry (driver tests) or the registry-backed ones.
 */
import pino, { type Logger } from 'pino';
import { ModelRegistry, specFromModelCard } from '../../processors/modelRegistry.js';
import { type RiskLoopConfigInput, type RiskLoopSerdes, riskLoopErrorHandlers, riskLoopTopology } from '../../processors/riskLoop.js';
import { RuleSetHolder } from '../../processors/rules.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { type Catalogue, buildCatalogue } from '../../schemas/catalogue.js';
import { avroType } from '../../schemas/load.js';
import type { SchemaName, Transaction } from '../../schemas/types.js';
import type { ErrorHandlers } from '../../topology/errors.js';
import type { Serde } from '../../topology/serde.js';
import type { Topology } from '../../topology/topology.js';

export const TEST_TOKENIZER_CONFIG = {
  accountTokenKey: '11'.repeat(32),
  cardKeys: [{ id: 'k2026a', key: '22'.repeat(32) }],
  currentCardKeyId: 'k2026a',
};

/** Avro binary without the registry framing: for in-process tests only. */
export function localAvroSerde<T>(name: SchemaName): Serde<T> {
  const type = avroType(name);
  return {
    serialize: (v: T) => type.toBuffer(v),
    deserialize: (b: Buffer) => type.fromBuffer(b) as T,
  };
}

export function localRiskLoopSerdes(): RiskLoopSerdes {
  return {
    transactions: localAvroSerde('Transaction'),
    kyc: localAvroSerde('KycRecord'),
    deviceSignals: localAvroSerde('DeviceSignal'),
    chargebacks: localAvroSerde('Chargeback'),
    analystOutcomes: localAvroSerde('AnalystOutcome'),
    challengeResults: localAvroSerde('ChallengeResult'),
    decisions: localAvroSerde('Decision'),
    trainingExamples: localAvroSerde('TrainingExample'),
    modelReleases: localAvroSerde('ModelRelease'),
    deadLetters: localAvroSerde('DeadLetter'),
    entityStats: localAvroSerde('EntityStats'),
  };
}

export interface RiskLoopFixture {
  topology: Topology;
  catalogue: Catalogue;
  serdes: RiskLoopSerdes;
  tokenizer: Tokenizer;
  models: ModelRegistry;
  rules: RuleSetHolder;
  errorHandlers: ErrorHandlers;
  logger: Logger;
}

export async function riskLoopFixture(
  opts: { config?: RiskLoopConfigInput; serdes?: RiskLoopSerdes; catalogue?: Catalogue; logger?: Logger; model?: boolean; tokenizer?: Tokenizer } = {},
): Promise<RiskLoopFixture> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  // One partition per topic, like the test driver's default, so that the wrong-partition check
  // (processors/partitionCheck.ts) expects what the driver does; tests of that check pass their own.
  const catalogue = opts.catalogue ?? buildCatalogue({ prefix: 'test.', partitions: 1 });
  const serdes = opts.serdes ?? localRiskLoopSerdes();
  const tokenizer = opts.tokenizer ?? new Tokenizer(TEST_TOKENIZER_CONFIG);
  const rules = await RuleSetHolder.fromFile('rules/ruleset.json', {}, logger);
  const models = new ModelRegistry(logger);
  if (opts.model !== false) await models.setChampion(await specFromModelCard('models/bootstrap-v1.card.json'));
  const topology = riskLoopTopology({ persistentStores: false, ...opts.config }, { catalogue, serdes, tokenizer, rules, models, logger });
  return { topology, catalogue, serdes, tokenizer, models, rules, errorHandlers: riskLoopErrorHandlers(catalogue, serdes.deadLetters, tokenizer), logger };
}

/** A valid card-present transaction (a Luhn-valid test PAN); tests override what they are about. */
export function testTransaction(over: Partial<Transaction> & Pick<Transaction, 'transactionId' | 'eventTime'>): Transaction {
  return {
    accountId: 'ACC-A',
    pan: '4111111111111111',
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
    deviceId: null,
    ip: null,
    ...over,
  };
}

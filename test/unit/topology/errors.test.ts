/** Deserialization, processing and production error handlers: FAIL, CONTINUE (logged) and DEAD_LETTER. */
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Consumed,
  type ErrorHandlers,
  Named,
  Produced,
  type Serde,
  Serdes,
  StreamsBuilder,
  TaskFailedError,
  TopologyTestDriver,
  deadLetterPerRecordProductionErrors,
  defaultErrorHandlers,
  logAndContinue,
  sendToDeadLetter,
} from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** A pino logger whose lines we can read. */
function capturingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

interface Payment {
  amount: number;
}

function paymentsTopology() {
  const builder = new StreamsBuilder();
  builder
    .stream('payments', Consumed.with(Serdes.String, Serdes.Json<Payment>(), { name: 'payments-source' }))
    .mapValues((p) => {
      if (p.amount < 0) throw new RangeError(`negative amount ${p.amount}`);
      return p.amount * 100;
    }, Named.as('to-cents'))
    .to('cents', Produced.with(Serdes.String, Serdes.Long));
  return builder.build({ applicationId: 'errs' });
}

const jsonBytes = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('deserialization errors', () => {
  it('DEAD_LETTER writes the original bytes and where they came from, then goes on', async () => {
    driver = await TopologyTestDriver.create(paymentsTopology(), {
      errorHandlers: { ...defaultErrorHandlers, deserialization: sendToDeadLetter, deadLetterTopic: 'errs-dlq' },
      initialWallClockTimeMs: 1_700_000_000_000,
    });
    await driver.pipeRaw('payments', { key: Buffer.from('tx-1'), value: jsonBytes({ amount: 1 }), timestamp: 10 });
    const bad = Buffer.from([0x7b, 0x6e, 0x6f, 0xff]); // "{no" + an invalid byte
    await driver.pipeRaw('payments', { key: Buffer.from('tx-2'), value: bad, timestamp: 20, headers: { trace: Buffer.from('abc') } });
    await driver.pipeRaw('payments', { key: Buffer.from('tx-3'), value: jsonBytes({ amount: 3 }), timestamp: 30 });

    expect(driver.createOutputTopic('cents', Serdes.String, Serdes.Long).readValuesToList()).toEqual([100, 300]);
    const dlq = driver.readRaw('errs-dlq');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.key?.toString()).toBe('tx-2');
    expect(dlq[0]!.timestamp).toBe(20);
    const letter = JSON.parse(dlq[0]!.value!.toString());
    expect(letter).toEqual({
      reason: 'DESERIALIZATION',
      phase: 'DESERIALIZATION',
      sourceTopic: 'payments',
      partition: 0,
      offset: 1,
      timestamp: 20,
      key: Buffer.from('tx-2').toString('base64'),
      value: bad.toString('base64'),
      headers: { trace: Buffer.from('abc').toString('base64') },
      processor: 'payments-source',
      taskId: '0_0',
      errorClass: 'SyntaxError',
      message: expect.stringContaining('JSON'),
      failedAt: 1_700_000_000_000,
    });
    expect(Buffer.from(letter.value, 'base64').equals(bad)).toBe(true);
    expect(driver.metrics().dropped.deserialization).toBe(1);
    expect(driver.metrics().deadLetters).toBe(1);
    // The skipped record's offset is committed like a processed one.
    expect(driver.streamTasks()[0]!.consumedOffsets()).toEqual([{ topic: 'payments', partition: 0, offset: 3 }]);
  });

  it('CONTINUE skips the record and logs where it was', async () => {
    const { logger, lines } = capturingLogger();
    driver = await TopologyTestDriver.create(paymentsTopology(), { errorHandlers: { ...defaultErrorHandlers, deserialization: logAndContinue }, logger });
    await driver.pipeRaw('payments', { key: null, value: Buffer.from('not json'), timestamp: 1 });
    await driver.pipeRaw('payments', { key: null, value: jsonBytes({ amount: 2 }), timestamp: 2 });
    expect(driver.createOutputTopic('cents', Serdes.String, Serdes.Long).readValuesToList()).toEqual([200]);
    const warning = lines.find((l) => l.msg === 'skipping record after error');
    expect(warning).toMatchObject({ level: 40, taskId: '0_0', processor: 'payments-source', phase: 'DESERIALIZATION', topic: 'payments', partition: 0, offset: 0 });
    expect(driver.readRaw('errs-dlq')).toEqual([]);
  });

  it('FAIL (the default) stops with a TaskFailedError and does not commit the record', async () => {
    driver = await TopologyTestDriver.create(paymentsTopology());
    await driver.pipeRaw('payments', { key: null, value: jsonBytes({ amount: 1 }), timestamp: 1 });
    const failure = driver.pipeRaw('payments', { key: null, value: Buffer.from('{'), timestamp: 2 });
    await expect(failure).rejects.toBeInstanceOf(TaskFailedError);
    await expect(failure).rejects.toMatchObject({ phase: 'DESERIALIZATION', processorName: 'payments-source', source: { offset: 1 } });
    expect(driver.streamTasks()[0]!.consumedOffsets()).toEqual([{ topic: 'payments', partition: 0, offset: 1 }]);
  });

  it('uses a reason code carried by the error, and a pluggable dead-letter encoding', async () => {
    class SchemaError extends Error {
      readonly reason = 'UNKNOWN_SCHEMA_ID';
    }
    const strict: Serde<string> = {
      serialize: (v) => Buffer.from(v),
      deserialize: (b) => {
        if (b[0] !== 0) throw new SchemaError('bad magic byte');
        return b.subarray(1).toString();
      },
    };
    const builder = new StreamsBuilder();
    builder.stream('in', Consumed.with(Serdes.String, strict)).to('out', Produced.with(Serdes.String, Serdes.String));
    const handlers: ErrorHandlers = {
      ...defaultErrorHandlers,
      deserialization: sendToDeadLetter,
      deadLetterTopic: 'dlq',
      deadLetterEncoder: { encode: (dl) => ({ key: null, value: Buffer.from(`${dl.reason}|${dl.errorClass}|${dl.sourceTopic}@${dl.offset}`) }) },
    };
    driver = await TopologyTestDriver.create(builder.build(), { errorHandlers: handlers });
    await driver.pipeRaw('in', { key: null, value: Buffer.from('x'), timestamp: 1 });
    expect(driver.readRaw('dlq').map((r) => r.value!.toString())).toEqual(['UNKNOWN_SCHEMA_ID|SchemaError|in@0']);
  });

  it('DEAD_LETTER without a dead-letter topic fails the task rather than losing the record', async () => {
    driver = await TopologyTestDriver.create(paymentsTopology(), { errorHandlers: { ...defaultErrorHandlers, deserialization: sendToDeadLetter } });
    await expect(driver.pipeRaw('payments', { key: null, value: Buffer.from('{'), timestamp: 1 })).rejects.toThrow(/no dead-letter topic/);
  });
});

describe('processing errors', () => {
  const negative = { key: Buffer.from('tx-bad'), value: jsonBytes({ amount: -5 }), timestamp: 2 };

  it('CONTINUE drops the failing record and processes the next ones', async () => {
    driver = await TopologyTestDriver.create(paymentsTopology(), { errorHandlers: { ...defaultErrorHandlers, processing: logAndContinue } });
    await driver.pipeRaw('payments', { key: null, value: jsonBytes({ amount: 1 }), timestamp: 1 });
    await driver.pipeRaw('payments', negative);
    await driver.pipeRaw('payments', { key: null, value: jsonBytes({ amount: 3 }), timestamp: 3 });
    expect(driver.createOutputTopic('cents', Serdes.String, Serdes.Long).readValuesToList()).toEqual([100, 300]);
    expect(driver.metrics().dropped.processing).toBe(1);
    expect(driver.metrics().nodes.get('to-cents')).toEqual({ recordsIn: 3, recordsOut: 2, dropped: 1 });
  });

  it('FAIL stops the task with the failing processor named, and the record is not committed', async () => {
    driver = await TopologyTestDriver.create(paymentsTopology());
    const failure = driver.pipeRaw('payments', negative);
    await expect(failure).rejects.toMatchObject({ name: 'TaskFailedError', phase: 'PROCESSING', processorName: 'to-cents', cause: expect.any(RangeError) });
    expect(driver.streamTasks()[0]!.consumedOffsets()).toEqual([]);
    expect(driver.createOutputTopic('cents', Serdes.String, Serdes.Long).isEmpty()).toBe(true);
  });

  it('DEAD_LETTER records the processor and the error with the original bytes', async () => {
    driver = await TopologyTestDriver.create(paymentsTopology(), { errorHandlers: { ...defaultErrorHandlers, processing: sendToDeadLetter, deadLetterTopic: 'dlq' } });
    await driver.pipeRaw('payments', negative);
    const letter = JSON.parse(driver.readRaw('dlq')[0]!.value!.toString());
    expect(letter).toMatchObject({ reason: 'PROCESSING', processor: 'to-cents', errorClass: 'RangeError', message: 'negative amount -5', offset: 0, sourceTopic: 'payments' });
    expect(Buffer.from(letter.value, 'base64').toString()).toBe('{"amount":-5}');
  });
});

describe('production errors', () => {
  it('a sink serializer failure goes to the production handler, which can dead-letter the source record', async () => {
    const picky: Serde<number> = {
      serialize: (v) => {
        if (!Number.isFinite(v)) throw new TypeError('not a finite number');
        return Serdes.Double.serialize(v);
      },
      deserialize: Serdes.Double.deserialize,
    };
    const builder = new StreamsBuilder();
    builder
      .stream('in', Consumed.with(Serdes.String, Serdes.Long))
      .mapValues((v) => 1 / v)
      .to('inverse', Produced.with(Serdes.String, picky, 'inverse-sink'));
    const seen: string[] = [];
    driver = await TopologyTestDriver.create(builder.build(), {
      errorHandlers: {
        ...defaultErrorHandlers,
        production: (ctx) => {
          seen.push(`${ctx.phase}:${ctx.processorName}:${ctx.record === null}`);
          return 'DEAD_LETTER';
        },
        deadLetterTopic: 'dlq',
      },
    });
    const input = driver.createInputTopic('in', Serdes.String, Serdes.Long);
    await input.pipeInput('a', 4, 1);
    await input.pipeInput('b', 0, 2);
    expect(driver.createOutputTopic('inverse', Serdes.String, Serdes.Double).readValuesToList()).toEqual([0.25]);
    expect(seen).toEqual(['serialization:inverse-sink:true']);
    const letter = JSON.parse(driver.readRaw('dlq')[0]!.value!.toString());
    expect(letter).toMatchObject({ reason: 'PRODUCTION', processor: 'inverse-sink', errorClass: 'TypeError', sourceTopic: 'in', offset: 1 });
    expect(Serdes.Long.deserialize(Buffer.from(letter.value, 'base64'))).toBe(0);
  });
});

describe('records too large for their topic', () => {
  const PAN = '4111111111111111';
  /** Passes input bytes through unchanged, so an input near the limit makes an output over it. */
  function passthrough() {
    const builder = new StreamsBuilder();
    builder.stream('in', Consumed.with(Serdes.String, Serdes.Buffer)).to('out', Produced.with(Serdes.String, Serdes.Buffer, 'out-sink'));
    return builder.build({ applicationId: 'big' });
  }
  const payload = (n: number): Buffer => {
    const b = Buffer.alloc(n, 0x2e);
    b.write(`{"pan":"${PAN}","account":"ACC-0042-7781"}`, 0);
    return b;
  };
  const handlers: ErrorHandlers = { ...defaultErrorHandlers, production: deadLetterPerRecordProductionErrors, deadLetterTopic: 'dlq' };

  it('an output over the limit becomes a dead letter, reduced when the full one is too large too; the stream goes on', async () => {
    const { logger, lines } = capturingLogger();
    driver = await TopologyTestDriver.create(passthrough(), { errorHandlers: handlers, maxRecordBytes: { out: 2000, dlq: 2500 }, logger });
    const big = payload(3000);
    await driver.pipeRaw('in', { key: Buffer.from('ACC-0042-7781'), value: big, timestamp: 5, headers: { trace: Buffer.from('t') } });
    await driver.pipeRaw('in', { key: Buffer.from('k2'), value: Buffer.from('small'), timestamp: 6 });
    expect(driver.readRaw('out').map((r) => r.value!.toString())).toEqual(['small']);
    const dlq = driver.readRaw('dlq');
    expect(dlq).toHaveLength(1);
    const raw = dlq[0]!.value!;
    expect(raw.length).toBeLessThan(1000);
    expect(raw.includes(Buffer.from(PAN))).toBe(false);
    expect(raw.includes(Buffer.from('ACC-0042'))).toBe(false);
    const letter = JSON.parse(raw.toString());
    expect(letter).toMatchObject({ reason: 'RECORD_TOO_LARGE', phase: 'PRODUCTION', sourceTopic: 'in', partition: 0, offset: 0, key: null, value: null, headers: {}, processor: 'out-sink', errorClass: 'RecordTooLargeError' });
    expect(letter.reduced.originalSize).toBe('ACC-0042-7781'.length + 3000 + 'trace'.length + 1);
    expect(letter.reduced.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    expect(Buffer.from(letter.reduced.excerpt, 'base64').toString()).toBe('{"xxx":"9999999999999999","xxxxxxx":"xxx-9999-9999"}............');
    expect(driver.metrics().deadLetters).toBe(1);
    expect(driver.metrics().dropped.production).toBe(1);
    expect(lines.find((l) => l.msg === 'dead letter too large to produce: wrote a reduced one')).toMatchObject({ level: 40, topic: 'in', partition: 0, offset: 0, reason: 'RECORD_TOO_LARGE', size: 3019 });
  });

  it('when not even the reduced letter fits, the record is skipped with a logged trace and counted; the stream goes on', async () => {
    const { logger, lines } = capturingLogger();
    driver = await TopologyTestDriver.create(passthrough(), { errorHandlers: handlers, maxRecordBytes: { out: 2000, dlq: 50 }, logger });
    await driver.pipeRaw('in', { key: Buffer.from('k1'), value: payload(3000), timestamp: 5 });
    await driver.pipeRaw('in', { key: Buffer.from('k2'), value: Buffer.from('small'), timestamp: 6 });
    expect(driver.readRaw('out').map((r) => r.value!.toString())).toEqual(['small']);
    expect(driver.readRaw('dlq')).toEqual([]);
    expect(driver.metrics().dropped.undeliverable).toBe(1);
    expect(driver.metrics().deadLetters).toBe(0);
    expect(lines.find((l) => l.msg === 'record skipped: not even a reduced dead letter could be produced')).toMatchObject({ level: 50, topic: 'in', partition: 0, offset: 0, reason: 'RECORD_TOO_LARGE' });
    expect(driver.streamTasks()[0]!.consumedOffsets()).toEqual([{ topic: 'in', partition: 0, offset: 2 }]);
  });

  it('a deserialization dead letter of a near-limit input is reduced as well', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', Consumed.with(Serdes.String, Serdes.Json<Payment>())).to('out', Produced.with(Serdes.String, Serdes.Json<Payment>()));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'big' }), {
      errorHandlers: { ...handlers, deserialization: sendToDeadLetter },
      maxRecordBytes: { dlq: 4000 },
    });
    await driver.pipeRaw('in', { key: null, value: payload(3900), timestamp: 1 });
    const letter = JSON.parse(driver.readRaw('dlq')[0]!.value!.toString());
    expect(letter).toMatchObject({ reason: 'DESERIALIZATION', value: null, reduced: { originalSize: 3900 } });
  });

  it('other production errors still fail the task under this handler', async () => {
    expect(deadLetterPerRecordProductionErrors({ taskId: '0_0', processorName: 's', source: null, phase: 'send', record: null }, new Error('TOPIC_AUTHORIZATION_FAILED'))).toBe('FAIL');
    expect(deadLetterPerRecordProductionErrors({ taskId: '0_0', processorName: 's', source: null, phase: 'serialization', record: null }, new TypeError('x'))).toBe('DEAD_LETTER');
  });
});

describe('null values at a KStream source', () => {
  it('reach the topology (the processors decide), they are not dropped by the runtime', async () => {
    const seen: (string | null)[] = [];
    const builder = new StreamsBuilder();
    builder
      .stream('in', Consumed.with(Serdes.String, Serdes.String))
      .peek((_k, v) => void seen.push(v))
      .to('out', Produced.with(Serdes.String, Serdes.String));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'nulls' }));
    await driver.pipeRaw('in', { key: Buffer.from('k'), value: null, timestamp: 1 });
    await driver.pipeRaw('in', { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 2 });
    expect(seen).toEqual([null, 'v']);
    expect(driver.readRaw('out').map((r) => r.value?.toString() ?? null)).toEqual([null, 'v']);
  });
});

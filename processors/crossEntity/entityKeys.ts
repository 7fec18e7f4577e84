/**
 * Entity keys of the cross-entity side sub-topologies, and the hot-path processor that sends each
 * tokenized transaction to them.
 *
 * Keys (the record keys of the entity-activity repartition topic, the `entity-stats` topic and
 * the global store):
 *   device:<deviceId>      deviceId as ingress left it (a PAN-like id is already a keyed pseudonym)
 *   ip:<pseudonym>         Tokenizer.identifierPseudonym of the IP: ingress keeps IPs readable in
 *                          the transaction, but `entity-stats` is a compacted topic that keeps a key
 *                          for ever, so the IP itself never becomes a key there (nor in a store)
 *   merchant:<merchantId>  merchantId as ingress left it
 * No PAN and no account id reaches these topics: only account-token prefixes (hour buckets).
 *
 * EntityActivityProcessor sits beside the hot path (a second child of ingress) and forwards, per
 * transaction, one activity record per entity the transaction names (to `activityChild`) and one
 * attribution record keyed by transaction id (to `attributionChild`), so that labels, which do not
 * name their merchant, can be attributed later (merchantRisk.ts). It reads only `risk.txn` and
 * never waits on anything: the hot path does not depend on its children.
 */
import type { TokenizedTransaction } from '../../schemas/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import type { Tokenizer } from '../tokenizer.js';
import type { RiskContext } from '../types.js';

export type EntityKind = 'device' | 'ip' | 'merchant';
export const ENTITY_KINDS: readonly EntityKind[] = ['device', 'ip', 'merchant'];

/** Whether the entity's hour buckets keep distinct accounts (the device-farm signal). */
export const TRACKS_ACCOUNTS: { readonly [K in EntityKind]: boolean } = { device: true, ip: true, merchant: false };

export function kindOfKey(key: string): EntityKind | undefined {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon);
  return kind === 'device' || kind === 'ip' || kind === 'merchant' ? kind : undefined;
}

/** The entity keys a transaction names, by kind; absent kinds are left out. */
export function entityKeysOf(txn: TokenizedTransaction, tokenizer: Tokenizer): { [K in EntityKind]?: string } {
  const out: { [K in EntityKind]?: string } = {};
  if (txn.deviceId !== null && txn.deviceId !== '') out.device = `device:${txn.deviceId}`;
  if (txn.ip !== null && txn.ip !== '') out.ip = `ip:${tokenizer.identifierPseudonym(`ip|${txn.ip}`)}`;
  if (txn.merchantId !== '') out.merchant = `merchant:${txn.merchantId}`;
  return out;
}

/** Value of the entity-activity repartition topic (internal, JSON). */
export type EntityActivity =
  | { type: 'txn'; eventTime: number; amountMinor: number; accountToken: string }
  | { type: 'fraud-label'; arrivedAt: number; delta: 1 | -1; /** Event time of the labelled transaction (absent on records of older versions). */ eventTime?: number };

/** Value of the label-attribution repartition topic (internal, JSON), keyed by transaction id. */
export type AttributionEvent = { type: 'txn'; eventTime: number; merchantKey: string } | { type: 'label'; arrivedAt: number; label: 0 | 1 };

export interface EntityActivityChildren {
  activityChild: string;
  attributionChild: string;
}

export class EntityActivityProcessor implements Processor<string, RiskContext, string, EntityActivity | AttributionEvent> {
  private ctx!: ProcessorContext<string, EntityActivity | AttributionEvent>;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly children: EntityActivityChildren,
  ) {}

  init(ctx: ProcessorContext<string, EntityActivity | AttributionEvent>): void {
    this.ctx = ctx;
    const names = ctx.childNames();
    for (const child of [this.children.activityChild, this.children.attributionChild]) {
      if (!names.includes(child)) throw new Error(`${ctx.processorName}: child ${child} is not connected (children: ${names.join(', ') || 'none'})`);
    }
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const { txn } = risk;
    const keys = entityKeysOf(txn, this.tokenizer);
    const activity: EntityActivity = { type: 'txn', eventTime: txn.eventTime, amountMinor: txn.amountMinor, accountToken: txn.accountToken };
    for (const kind of ENTITY_KINDS) {
      const key = keys[kind];
      if (key !== undefined) this.ctx.forward({ key, value: activity, timestamp: txn.eventTime, headers: {} }, this.children.activityChild);
    }
    if (keys.merchant !== undefined) {
      this.ctx.forward(
        { key: txn.transactionId, value: { type: 'txn', eventTime: txn.eventTime, merchantKey: keys.merchant }, timestamp: txn.eventTime, headers: {} },
        this.children.attributionChild,
      );
    }
  }
}

export function entityActivityProcessor(tokenizer: Tokenizer, children: EntityActivityChildren): ProcessorSupplier<string, RiskContext, string, EntityActivity | AttributionEvent> {
  return () => new EntityActivityProcessor(tokenizer, children);
}

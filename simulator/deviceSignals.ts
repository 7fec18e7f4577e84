/**
 * Device signals as the app/web SDK sends them, derived from how devices are used:
 *  - when a device is first used, a signal a few seconds to two minutes before the payment (the
 *    session start), logged in as its owner; a fraudster's session is logged in as the victim
 *    (account takeover) or not at all (guest checkout), and an account-takeover login comes
 *    minutes before the first payment;
 *  - when a farm device starts a session in a new incident, another signal (so one device shows
 *    up with several accounts);
 *  - now and then later on (REFRESH_PROBABILITY per legitimate payment on the device), with the
 *    IP of that payment;
 *  - when the fraud team blocks a device after a fraud chargeback or a FRAUD verdict, a signal with
 *    `blocked: true`, and every later signal of the device stays blocked.
 */
import type { DeviceSignal } from '../schemas/types.js';
import type { BlockEvent } from './labels/chargebacks.js';
import type { Device, SimTransaction } from './model.js';
import type { Random } from './random.js';
import { SECOND } from './time.js';

export const REFRESH_PROBABILITY = 0.03;

interface SignalEvent {
  at: number;
  seq: number;
  device: Device;
  accountId: string | null;
  ip: string;
  block: boolean;
}

export function generateDeviceSignals(
  rng: Random,
  transactions: readonly SimTransaction[],
  blocks: readonly BlockEvent[],
  keyFor: (accountId: string) => string,
  horizonEnd: number,
): DeviceSignal[] {
  const events: SignalEvent[] = [];
  const seen = new Set<Device>();
  const sessionLead = (): number => Math.round(rng.uniform(5, 120) * SECOND);

  for (const txn of transactions) {
    const device = txn.device;
    if (!device) continue;
    const ip = txn.ip ?? device.ip;
    if (!seen.has(device) || txn.session) {
      seen.add(device);
      const at = txn.session?.startedAt ?? txn.eventTime - sessionLead();
      const accountId = txn.session ? txn.session.accountId : (device.owner?.accountId ?? null);
      events.push({ at, seq: events.length, device, accountId, ip, block: false });
    } else if (!txn.fraud && rng.chance(REFRESH_PROBABILITY)) {
      events.push({ at: txn.eventTime - sessionLead(), seq: events.length, device, accountId: device.owner?.accountId ?? null, ip, block: false });
    }
  }

  // One block per device: the earliest reason to block it.
  const blockAt = new Map<Device, number>();
  for (const b of blocks) {
    if (b.at > horizonEnd) continue;
    const current = blockAt.get(b.device);
    if (current === undefined || b.at < current) blockAt.set(b.device, b.at);
  }
  for (const [device, at] of blockAt) events.push({ at, seq: events.length, device, accountId: null, ip: device.ip, block: true });

  events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const blocked = new Set<Device>();
  return events.map((e): DeviceSignal => {
    if (e.block) blocked.add(e.device);
    return {
      deviceId: e.device.deviceId,
      eventTime: e.at,
      accountToken: e.accountId === null ? null : keyFor(e.accountId),
      emulator: e.device.emulator,
      rooted: e.device.rooted,
      blocked: e.device.blockedFromStart || blocked.has(e.device),
      os: e.device.os,
      userAgent: e.device.userAgent,
      ip: e.ip,
    };
  });
}

/**
 * Devices as the app/web SDK would fingerprint them. Customers have 1-3 (a phone, often a laptop
 * or tablet too); a few legitimate phones are rooted or are emulators (developers), and a very few
 * legitimate devices sit on the block list by mistake. Fraudster devices come from a farm: mostly
 * emulators, rooted phones and scripted browsers, on hosting IPs.
 */
import type { Customer, Device, DeviceKind } from '../model.js';
import type { Random } from '../random.js';
import { hostingIp, residentialIp } from '../world/ipAddresses.js';

const OS_BY_KIND: Readonly<Record<DeviceKind, readonly string[]>> = {
  ios: ['iOS 17.6', 'iOS 18.1', 'iOS 18.3'],
  android: ['Android 13', 'Android 14', 'Android 15'],
  web: ['Windows 11', 'Windows 10', 'macOS 14', 'macOS 15'],
};

const USER_AGENTS: Readonly<Record<string, string>> = {
  'Windows 11': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Windows 10': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'macOS 14': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  'macOS 15': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
};

/** Headless browsers and emulator builds as card-testing scripts present them. */
const FRAUDSTER_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36';

export const LEGIT_DEVICE_RATES = {
  androidRooted: 0.03,
  iosJailbroken: 0.005,
  androidEmulator: 0.002,
  blockedByMistake: 0.0005,
} as const;

export const FRAUDSTER_DEVICE_RATES = { emulator: 0.45, rooted: 0.3 } as const;

export class DeviceFactory {
  /** `ids` may be shared between factories (customers' and fraudsters') so ids stay unique across both. */
  constructor(
    private readonly rng: Random,
    private readonly ids: Set<string> = new Set(),
  ) {}

  /**
   * Ten hex characters: too short to be a digit run that ingress would take for a PAN (12+), long
   * enough (2^40) that collisions are rare, and those are redrawn.
   */
  private newId(): string {
    for (;;) {
      const id = `dev-${this.rng.hex(10)}`;
      if (!this.ids.has(id)) {
        this.ids.add(id);
        return id;
      }
    }
  }

  customerDevice(customer: Customer, kind: DeviceKind, activeFrom: number): Device {
    const rng = this.rng;
    const os = rng.pick(OS_BY_KIND[kind]);
    const rooted = kind === 'android' ? rng.chance(LEGIT_DEVICE_RATES.androidRooted) : kind === 'ios' && rng.chance(LEGIT_DEVICE_RATES.iosJailbroken);
    return {
      deviceId: this.newId(),
      kind,
      os,
      userAgent: kind === 'web' ? (USER_AGENTS[os] ?? null) : null,
      ip: residentialIp(rng, customer.homeCity.country),
      emulator: kind === 'android' && rng.chance(LEGIT_DEVICE_RATES.androidEmulator),
      rooted,
      blockedFromStart: rng.chance(LEGIT_DEVICE_RATES.blockedByMistake),
      owner: customer,
      activeFrom,
    };
  }

  fraudsterDevice(): Device {
    const rng = this.rng;
    const kind: DeviceKind = rng.weighted(['android', 'web', 'ios'] as const, (k) => (k === 'android' ? 5 : k === 'web' ? 4 : 1));
    const os = kind === 'android' ? 'Android 11' : kind === 'ios' ? 'iOS 15.8' : 'Linux';
    return {
      deviceId: this.newId(),
      kind,
      os,
      userAgent: kind === 'web' ? FRAUDSTER_USER_AGENT : null,
      ip: hostingIp(rng),
      emulator: kind !== 'ios' && rng.chance(FRAUDSTER_DEVICE_RATES.emulator),
      rooted: kind !== 'web' && rng.chance(FRAUDSTER_DEVICE_RATES.rooted),
      blockedFromStart: false,
      owner: null,
      activeFrom: Number.NEGATIVE_INFINITY,
    };
  }
}

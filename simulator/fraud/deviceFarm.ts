/**
 * The fraudsters' devices. Fraud rings work from a pool of emulators, rooted phones and scripted
 * browsers and reuse them across victims, which is what makes "accounts seen on this device" and
 * the device block list useful to the loop. Each incident reuses a device of the farm with the
 * configured probability, otherwise adds a new one.
 */
import type { Device } from '../model.js';
import type { DeviceFactory } from '../population/devices.js';
import type { Random } from '../random.js';

export class DeviceFarm {
  private readonly devices: Device[] = [];

  constructor(
    private readonly factory: DeviceFactory,
    private readonly reuseProbability: number,
  ) {}

  acquire(rng: Random): Device {
    if (this.devices.length > 0 && rng.chance(this.reuseProbability)) return rng.pick(this.devices);
    const device = this.factory.fraudsterDevice();
    this.devices.push(device);
    return device;
  }

  get size(): number {
    return this.devices.length;
  }
}

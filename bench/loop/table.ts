export function printTable(_e: unknown): void {}

export function renderCharts(_e: unknown): void {}

/** `riskloop models` listing and history (bin/commands/models.ts), from folded lifecycle events and model cards. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cardPathOf, fmt, formatHistory, formatModelList, modelRow, readCardSummary } from '../../../bin/commands/models.js';
import { foldLifecycle, type LifecycleEvent } from '../../../lifecycle/events.js';

let t = Date.parse('2026-12-03T09:00:00Z');
function ev(e: Pick<LifecycleEvent, 'version' | 'type' | 'stage' | 'details'> & Partial<LifecycleEvent>): LifecycleEvent {
  t += 60_000;
  return { id: crypto.randomUUID(), at: new Date(t).toISOString(), actor: 'retrainer@h', automatic: true, reason: 'r', policyVersion: 'lifecycle-policy-1', ...e };
}

const events = [
  ev({ version: 'old', type: 'stage', stage: 'champion', details: { from: 'canary', to: 'champion' } }),
  ev({
    version: 'new', type: 'candidate', stage: 'candidate', reason: 'drift alert on txn.amount_minor',
    details: { cardPath: '/nowhere/new.card.json', parent: 'old', featureSetVersion: 'fs-2', trainingFrom: '2026-01-05T00:00:00Z', trainingTo: '2026-02-01T00:00:00Z', labelCutoff: '2026-01-25T00:00:00Z', examples: 9000, positives: 120, trigger: 'drift', cost: { wallMs: 12_400, cpuMs: 20_100, examples: 9000, bytes: 5_500_000 } },
  }),
  ev({ version: 'new', type: 'gate', stage: null, details: { passed: true, reportPath: 'models/new.gates.json', checks: [{ name: 'averagePrecision', passed: true, value: 0.5123456, limit: 0.31, detail: 'champion 0.305 + 0.005' }, { name: 'replay', passed: true, value: 0.004, limit: 0.01 }] } }),
  ev({ version: 'new', type: 'stage', stage: 'shadow', details: { from: 'candidate', to: 'shadow' } }),
  ev({ version: 'new', type: 'stage', stage: 'canary', actor: 'controller@h', details: { from: 'shadow', to: 'canary', share: 10, checks: [{ name: 'scorePsi', passed: true, value: 0.02, limit: 0.25 }] } }),
  ev({ version: 'new', type: 'command', stage: null, actor: 'os:alice@desk', automatic: false, details: { command: 'promote' } }),
  ev({ version: 'new', type: 'stage', stage: 'champion', actor: 'os:alice@desk', automatic: false, reason: 'promoted by command', details: { from: 'canary', to: 'champion' } }),
  ev({ version: 'bad', type: 'candidate', stage: 'candidate', details: { parent: 'new' } }),
  ev({ version: 'bad', type: 'gate', stage: 'rejected', details: { passed: false, checks: [{ name: 'averagePrecision', passed: false, value: 0.02, limit: 0.52 }, { name: 'auc', passed: false, value: 0.5, limit: 0.9 }, { name: 'latency', passed: true, value: 300, limit: 5000 }] } }),
];

describe('riskloop models', () => {
  it('lists every model with stage, lineage, metrics from the card, gate result and the gate report the card links', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'models-cmd-'));
    await writeFile(path.join(dir, 'new.card.json'), JSON.stringify({ version: 'new', metrics: { aucRoc: 0.93456, averagePrecision: 0.5123, precisionAtK: { k: 100, mean: 0.21 } }, gateReport: 'new.gates.json' }));
    const state = foldLifecycle(events);
    const m = state.models.get('new')!;
    const cardPath = cardPathOf(m, dir);
    expect(cardPath).toBe(path.join(dir, 'new.card.json'));
    const card = await readCardSummary(cardPath!);
    expect(card).toEqual({ averagePrecision: 0.5123, auc: 0.93456, precisionAtK: { k: 100, mean: 0.21 }, gateReport: path.join(dir, 'new.gates.json'), featureSetVersion: null });
    const rows = [...state.models.values()].map((x) => modelRow(x, state, x.version === 'new' ? card : null, x.version === 'new' ? cardPath : null));
    const row = rows.find((r) => r.version === 'new')!;
    expect(row).toMatchObject({ stage: 'champion', champion: true, parent: 'old', featureSetVersion: 'fs-2', labelCutoff: '2026-01-25T00:00:00Z', trigger: 'drift', gateReport: path.join(dir, 'new.gates.json'), stagedBy: { actor: 'os:alice@desk', automatic: false } });
    expect(row.gate).toMatchObject({ passed: true, reportPath: 'models/new.gates.json' });

    const text = formatModelList(state, rows).join('\n');
    expect(text).toContain('champion: new   previous: old');
    expect(text).toMatch(/^new {2}champion since 2026-12-03 09:07:00Z by os:alice@desk \(person\) {3}parent old$/m);
    expect(text).toContain('data 2026-01-05 → 2026-02-01, label cut-off 2026-01-25, feature set fs-2, 9000 examples (120 fraud), trigger drift');
    expect(text).toContain(`AP 0.5123  AUC 0.9346  P@100 0.21   gates passed 2/2   report ${path.join(dir, 'new.gates.json')}`);
    expect(text).toMatch(/^old {2}retired since 2026-12-03 09:07:00Z.*\n {4}no candidate event: not trained by the retrain service/m);
    expect(text).toMatch(/^bad {2}rejected since .*parent new$/m);
    expect(text).toContain('gates FAILED (averagePrecision, auc)');
  });

  it("shows a model's history: lineage and cost, each gate's figures, stage changes with shares, who approved", () => {
    const lines = formatHistory(foldLifecycle(events).models.get('new')!);
    const text = lines.join('\n');
    expect(lines[0]).toBe('new: champion since 2026-12-03 09:07:00Z, 6 events');
    expect(text).toContain('candidate → candidate  by retrainer@h (automatic)  policy lifecycle-policy-1\n    drift alert on txn.amount_minor');
    expect(text).toContain('cost: 12.4 s wall, 20.1 s CPU, 9000 examples, 5.5 MB');
    expect(text).toContain('pass averagePrecision: 0.5123 (limit 0.31) — champion 0.305 + 0.005');
    expect(text).toContain('shadow → canary at 10%');
    expect(text).toContain('command  by os:alice@desk (person)');
    expect(text).toContain('stage → champion  by os:alice@desk (person)');
  });

  it('shows a rollback with the check that failed and what it restored', () => {
    const rb = [...events, ev({ version: 'new', type: 'rollback', stage: 'rolled-back', actor: 'controller@h', reason: 'precision fell', details: { restored: 'old', failedCheck: { name: 'precision', value: 0.01, limit: 0.05, detail: '300 labelled' } } })];
    const state = foldLifecycle(rb);
    expect(state.champion).toBe('old');
    const text = formatHistory(state.models.get('new')!).join('\n');
    expect(text).toContain('rollback → rolled-back  by controller@h (automatic)');
    expect(text).toContain('restored old\n    FAIL precision: 0.01 (limit 0.05) — 300 labelled');
  });

  it('says so when there is nothing yet, and formats figures for people', () => {
    expect(formatModelList(foldLifecycle([]), [])).toEqual(['no models on the lifecycle topic yet (the retrain service writes the first candidate)']);
    // A candidate in canary and no champion event: the start-up champion still decides, not "rules only".
    const early = foldLifecycle(events.slice(1, 5)); // new: candidate, gate, shadow, canary
    const earlyRows = [...early.models.values()].map((x) => modelRow(x, early, null, null));
    expect(formatModelList(early, earlyRows)[0]).toBe('champion: none recorded yet (the loops decide with the model they started with, RISKLOOP_MODEL_CARD, or rules if none)');
    expect([fmt(0.123456), fmt(12), fmt(12345.678), fmt(null), fmt('x')]).toEqual(['0.1235', '12', '12346', '-', 'x']);
  });
});

/**
 * `riskloop models`: where every model stands and how it got there, from the model-lifecycle topic
 * (lifecycle/events.ts) and the model cards it points to.
 *
 *   riskloop models [list] [--json]        every model: stage, since, parent, training data range and
 *                                          label cut-off, feature set, key metrics, gate result and
 *                                          the gate report the card links to
 *   riskloop models history <version>      its events: candidate (lineage, cost), gates with their
 *                                          figures, stage changes, rollbacks, who or what approved
 *
 * Reading only: the topic is the history, nothing here writes to it. The pause/resume/promote/
 * rollback actions (the rollout controller obeys them) are dispatched from modelsCommand too.
 *
 *   riskloop models pause|resume|promote|rollback <version> [--reason TEXT]
 *                                          a person's command: one `command` event (automatic=false,
 *                                          actor os:<user>@<host>) that the rollout controller
 *                                          (lifecycle/rollout.ts) obeys on its next tick
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ensureLifecycleTopic, foldLifecycle, LifecycleLog, lifecycleTopicName, readLifecycle, type LifecycleEvent, type LifecycleState, type ModelHistory, type Stage } from '../../lifecycle/events.js';
import type { ModelCommand } from '../../lifecycle/rollout.js';
import { AuditLog, auditTopicName, ensureAuditTopic, osPrincipal } from '../../ops/auditEvents.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { readClientConfig } from '../config.js';
import type { CommandIo } from './topics.js';

/** What of a model card the listing shows; every field may be absent (older cards, another host's disk). */
export interface CardSummary {
  averagePrecision: number | null;
  auc: number | null;
  precisionAtK: { k: number; mean: number } | null;
  /** The gate report as the card links it, resolved against the card's folder. */
  gateReport: string | null;
  featureSetVersion: string | null;
}

export interface Check {
  name: string;
  passed: boolean | null;
  value: unknown;
  limit: unknown;
  detail: string | null;
}

export interface ModelRow {
  version: string;
  stage: Stage;
  paused: boolean;
  since: string;
  champion: boolean;
  parent: string | null;
  trainingFrom: string | null;
  trainingTo: string | null;
  labelCutoff: string | null;
  featureSetVersion: string | null;
  examples: number | null;
  positives: number | null;
  trigger: string | null;
  cardPath: string | null;
  metrics: { averagePrecision: number | null; auc: number | null; precisionAtK: { k: number; mean: number } | null } | null;
  gate: { passed: boolean; checks: Check[]; reportPath: string | null } | null;
  gateReport: string | null;
  /** Who or what moved it into its current stage. */
  stagedBy: { actor: string; automatic: boolean; reason: string } | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function checksOf(v: unknown): Check[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((c): Check[] => {
    if (c === null || typeof c !== 'object') return [];
    const o = c as Record<string, unknown>;
    return [{ name: str(o.name) ?? '?', passed: typeof o.passed === 'boolean' ? o.passed : null, value: o.value ?? null, limit: o.limit ?? null, detail: str(o.detail) }];
  });
}

/** Reads what the listing needs from a model card; null when the card is not readable here. */
export async function readCardSummary(cardPath: string): Promise<CardSummary | null> {
  let card: Record<string, unknown>;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  const metrics = (card.metrics ?? {}) as Record<string, unknown>;
  const pak = (metrics.precisionAtK ?? null) as Record<string, unknown> | null;
  const gateReport = str(card.gateReport);
  return {
    averagePrecision: num(metrics.averagePrecision),
    auc: num(metrics.aucRoc) ?? num(metrics.holdoutAuc),
    precisionAtK: pak && num(pak.k) !== null && num(pak.mean) !== null ? { k: num(pak.k)!, mean: num(pak.mean)! } : null,
    gateReport: gateReport === null ? null : path.isAbsolute(gateReport) ? gateReport : path.join(path.dirname(cardPath), gateReport),
    featureSetVersion: str(card.featureSetVersion),
  };
}

/**
 * Where a model's card is: the path an event names (the candidate event; the controller's events
 * carry it too), else `<modelsDir>/<version>.card.json`, else the repository's `models/` (the
 * committed models a loop starts with).
 */
export function cardPathOf(m: ModelHistory, modelsDir: string): string | null {
  const named = [...m.events].reverse().map((e) => str(e.details.cardPath)).find((p) => p !== null) ?? null;
  if (named !== null && existsSync(named)) return named;
  for (const dir of [modelsDir, 'models']) {
    const fallback = path.join(dir, `${m.version}.card.json`);
    if (existsSync(fallback)) return fallback;
  }
  return named;
}

export function modelRow(m: ModelHistory, state: LifecycleState, card: CardSummary | null, cardPath: string | null): ModelRow {
  const candidate = [...m.events].reverse().find((e) => e.type === 'candidate');
  const gate = [...m.events].reverse().find((e) => e.type === 'gate');
  const d = candidate?.details ?? {};
  const staged = [...m.events].reverse().find((e) => e.stage === m.stage) ?? null;
  const gateReport = card?.gateReport ?? str(gate?.details.reportPath);
  return {
    version: m.version,
    stage: m.stage,
    paused: m.paused,
    since: m.since,
    champion: state.champion === m.version,
    parent: str(d.parent),
    trainingFrom: str(d.trainingFrom),
    trainingTo: str(d.trainingTo),
    labelCutoff: str(d.labelCutoff),
    featureSetVersion: str(d.featureSetVersion) ?? card?.featureSetVersion ?? null,
    examples: num(d.examples),
    positives: num(d.positives),
    trigger: str(d.trigger),
    cardPath,
    metrics: card ? { averagePrecision: card.averagePrecision, auc: card.auc, precisionAtK: card.precisionAtK } : null,
    gate: gate ? { passed: gate.details.passed === true, checks: checksOf(gate.details.checks), reportPath: str(gate.details.reportPath) } : null,
    gateReport,
    stagedBy: staged ? { actor: staged.actor, automatic: staged.automatic, reason: staged.reason } : null,
  };
}

/** A figure as people read it: at most four significant digits, integers as they are. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString();
  }
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** An ISO instant, to the second, UTC: `2026-12-03 09:30:01Z`. */
export function when(iso: string | null): string {
  if (iso === null) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

function day(iso: string | null): string {
  if (iso === null) return '?';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 10);
}

export function formatCheck(c: Check): string {
  const mark = c.passed === null ? '·' : c.passed ? 'pass' : 'FAIL';
  return `${mark.padEnd(4)} ${c.name}: ${fmt(c.value)} (limit ${fmt(c.limit)})${c.detail ? ` — ${c.detail}` : ''}`;
}

export function formatModelList(state: LifecycleState, rows: readonly ModelRow[]): string[] {
  if (rows.length === 0) return ['no models on the lifecycle topic yet (the retrain service writes the first candidate)'];
  // No champion event yet does not mean rules only: the loops decide with the model they started
  // with (RISKLOOP_MODEL_CARD) until the controller records a champion, which it does when one replaces it.
  const champion = state.champion ?? 'none recorded yet (the loops decide with the model they started with, RISKLOOP_MODEL_CARD, or rules if none)';
  const out = [`champion: ${champion}${state.previousChampion ? `   previous: ${state.previousChampion}` : ''}`, ''];
  for (const r of rows) {
    const how = r.stagedBy ? ` by ${r.stagedBy.automatic ? r.stagedBy.actor : `${r.stagedBy.actor} (person)`}` : '';
    out.push(`${r.version}  ${r.stage}${r.paused ? ' (paused)' : ''} since ${when(r.since)}${how}   parent ${r.parent ?? '-'}`);
    if (r.trigger === null && r.trainingFrom === null && r.labelCutoff === null) {
      // No candidate event: a model the loop already ran (adopted by the controller, or restored).
      out.push('    no candidate event: not trained by the retrain service (the model the loop started with)');
    } else {
      const data = r.trainingFrom || r.trainingTo ? `data ${day(r.trainingFrom)} → ${day(r.trainingTo)}` : 'data -';
      const counts = r.examples !== null ? `, ${r.examples} examples${r.positives !== null ? ` (${r.positives} fraud)` : ''}` : '';
      out.push(`    ${data}, label cut-off ${day(r.labelCutoff)}, feature set ${r.featureSetVersion ?? '-'}${counts}${r.trigger ? `, trigger ${r.trigger}` : ''}`);
    }
    const m = r.metrics;
    const metrics = m ? `AP ${fmt(m.averagePrecision)}  AUC ${fmt(m.auc)}  P@${m.precisionAtK?.k ?? 'k'} ${fmt(m.precisionAtK?.mean ?? null)}` : 'metrics - (card not readable here)';
    let gate = 'gates -';
    if (r.gate) {
      const failed = r.gate.checks.filter((c) => c.passed === false).map((c) => c.name);
      const passed = r.gate.checks.filter((c) => c.passed === true).length;
      gate = r.gate.passed ? `gates passed ${passed}/${r.gate.checks.length}` : `gates FAILED (${failed.join(', ') || 'see report'})`;
    }
    out.push(`    ${metrics}   ${gate}${r.gateReport ? `   report ${r.gateReport}` : ''}`);
  }
  return out;
}

function detailLines(e: LifecycleEvent): string[] {
  const d = e.details;
  switch (e.type) {
    case 'candidate': {
      const cost = (d.cost ?? null) as Record<string, unknown> | null;
      const lines = [
        `parent ${fmt(d.parent ?? null)}, data ${day(str(d.trainingFrom))} → ${day(str(d.trainingTo))}, label cut-off ${when(str(d.labelCutoff))}, feature set ${fmt(d.featureSetVersion ?? null)}`,
        `${fmt(d.examples ?? null)} examples (${fmt(d.positives ?? null)} fraud), trigger ${fmt(d.trigger ?? null)}${str(d.cardPath) ? `, card ${str(d.cardPath)}` : ''}`,
      ];
      if (cost) {
        const s = (ms: unknown): string => (num(ms) === null ? '-' : `${(num(ms)! / 1000).toFixed(1)} s`);
        const mb = num(cost.bytes) === null ? '-' : `${(num(cost.bytes)! / 1e6).toFixed(1)} MB`;
        lines.push(`cost: ${s(cost.wallMs)} wall, ${s(cost.cpuMs)} CPU, ${fmt(cost.examples ?? null)} examples, ${mb}`);
      }
      return lines;
    }
    case 'gate':
      return [`${d.passed === true ? 'passed' : 'FAILED'}${str(d.reportPath) ? `, report ${str(d.reportPath)}` : ''}`, ...checksOf(d.checks).map(formatCheck)];
    case 'stage':
      return [`${fmt(d.from ?? null)} → ${fmt(d.to ?? e.stage)}${num(d.share) !== null ? ` at ${fmt(d.share)}%` : ''}`, ...checksOf(d.checks).map(formatCheck)];
    case 'rollback': {
      const failed = checksOf(d.failedCheck ? [{ passed: false, ...(d.failedCheck as object) }] : []);
      return [`restored ${fmt(d.restored ?? null)}`, ...(failed.length ? failed.map(formatCheck) : ['no failed check (by command)'])];
    }
    case 'command':
      return [`command ${fmt(d.command ?? null)}`];
  }
}

export function formatHistory(m: ModelHistory): string[] {
  const out = [`${m.version}: ${m.stage}${m.paused ? ' (paused)' : ''} since ${when(m.since)}, ${m.events.length} events`];
  for (const e of m.events) {
    const who = e.automatic ? `${e.actor} (automatic)` : `${e.actor} (person)`;
    out.push('');
    out.push(`${when(e.at)}  ${e.type}${e.stage ? ` → ${e.stage}` : ''}  by ${who}${e.policyVersion ? `  policy ${e.policyVersion}` : ''}`);
    if (e.reason) out.push(`    ${e.reason}`);
    for (const l of detailLines(e)) out.push(`    ${l}`);
  }
  return out;
}

const USAGE = [
  'usage: riskloop models [list] [--json] [--models-dir DIR]',
  '       riskloop models history <version> [--json]',
  '       riskloop models pause|resume|promote|rollback <version> [--reason TEXT]',
  '',
  'Every model on the lifecycle topic (${RISKLOOP_TOPIC_PREFIX}model-lifecycle): stage, since, parent,',
  'training data and label cut-off, feature set, key metrics, gate result and gate report; or one',
  "model's events: candidate, gates with figures, stage changes, rollbacks, who or what approved.",
  '  --models-dir DIR   where model cards are looked for when the event\'s path is not here (default models)',
];

/** The lifecycle, folded, from the topic the environment's config names. */
export async function loadLifecycle(io: CommandIo): Promise<{ events: LifecycleEvent[]; state: LifecycleState; topic: string }> {
  const config = readClientConfig(io.env);
  const topic = lifecycleTopicName(config.topicPrefix);
  const client = createKafkajsClient({ connection: config.kafka, clientId: 'riskloop-models', logger: pino({ level: 'warn' }) });
  const events = await readLifecycle(client, topic, {
    // One unreadable record must not hide the whole history from the person asking.
    onInvalid: (offset, err) => io.err(`riskloop models: ${topic}/0@${offset} skipped: ${err.message}`),
  });
  return { events, state: foldLifecycle(events), topic };
}

export async function modelsList(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, 'models-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const { state } = await loadLifecycle(io);
  const rows: ModelRow[] = [];
  for (const m of state.models.values()) {
    const cardPath = cardPathOf(m, values['models-dir'] ?? 'models');
    rows.push(modelRow(m, state, cardPath ? await readCardSummary(cardPath) : null, cardPath));
  }
  if (values.json) io.out(JSON.stringify({ champion: state.champion, previousChampion: state.previousChampion, models: rows }));
  else formatModelList(state, rows).forEach((l) => io.out(l));
  return 0;
}

export async function modelsHistory(argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  const version = positionals[0];
  if (values.help || !version) {
    USAGE.forEach((l) => (values.help ? io.out(l) : io.err(l)));
    return values.help ? 0 : 2;
  }
  const { state, topic } = await loadLifecycle(io);
  const m = state.models.get(version);
  if (!m) {
    io.err(`riskloop models history: no events for ${version} on ${topic} (riskloop models lists the versions)`);
    return 1;
  }
  if (values.json) m.events.forEach((e) => io.out(JSON.stringify(e)));
  else formatHistory(m).forEach((l) => io.out(l));
  return 0;
}

export async function modelsCommand(argv: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case undefined:
    case 'list':
      return modelsList(rest, io);
    case 'history':
      return modelsHistory(rest, io);
    case 'pause':
    case 'resume':
    case 'promote':
    case 'rollback':
      return modelsAction(sub, rest, io);
    default:
      if (sub.startsWith('-')) return modelsList(argv, io);
      io.err(`riskloop models: unknown sub-command '${sub}'`);
      USAGE.forEach((l) => io.err(l));
      return 2;
  }
}

// --- a person's commands (pause/resume/promote/rollback) -------------------------------------------

/**
 * Why `command` cannot apply to `version` as the history stands, or null when it can. Refused here
 * rather than left for the controller to ignore, so the person learns at once.
 */
export function commandProblem(state: LifecycleState, version: string, command: ModelCommand): string | null {
  const m = state.models.get(version);
  if (!m) return `no model ${version} on the lifecycle topic (riskloop models lists them)`;
  const inRollout = m.stage === 'shadow' || m.stage === 'canary';
  switch (command) {
    case 'pause':
      if (!inRollout) return `${version} is ${m.stage}: only a model in shadow or canary can be paused`;
      return m.paused ? `${version} is already paused` : null;
    case 'resume':
      return m.paused ? null : `${version} is not paused`;
    case 'promote':
      return inRollout ? null : `${version} is ${m.stage}: only a model in shadow or canary can be promoted`;
    case 'rollback':
      if (inRollout) return null;
      if (m.stage !== 'champion') return `${version} is ${m.stage}: only a model in shadow, canary or champion can be rolled back`;
      return state.previousChampion === null ? `${version} is champion and the history names no previous champion to restore` : null;
  }
}

/** `riskloop models <command> <version>`: writes the command event (and its audit mirror). */
export async function modelsAction(command: ModelCommand, argv: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { reason: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const version = positionals[0];
  if (values.help || !version) {
    USAGE.forEach((l) => (values.help ? io.out(l) : io.err(l)));
    return values.help ? 0 : 2;
  }
  const config = readClientConfig(io.env);
  const { state, topic } = await loadLifecycle(io);
  const problem = commandProblem(state, version, command);
  if (problem !== null) {
    io.err(`riskloop models ${command}: ${problem}`);
    return 1;
  }
  const actor = osPrincipal();
  const client = createKafkajsClient({ connection: config.kafka, clientId: 'riskloop-models', logger: pino({ level: 'warn' }) });
  const auditTopic = auditTopicName(config.topicPrefix);
  const admin = await client.admin();
  try {
    await ensureLifecycleTopic(admin, topic);
    await ensureAuditTopic(admin, auditTopic);
  } finally {
    await admin.disconnect();
  }
  const producer = await client.producer();
  try {
    const audit = new AuditLog(producer, auditTopic, { principal: actor, authenticated: false, source: 'cli' });
    const event = await new LifecycleLog(producer, topic, audit).record({
      version,
      type: 'command',
      stage: null,
      actor,
      automatic: false,
      reason: values.reason ?? `${command} requested with riskloop models`,
      policyVersion: null,
      details: { command },
    });
    const m = state.models.get(version)!;
    io.out(`${command} ${version} (${m.stage}${m.paused ? ', paused' : ''}) recorded by ${actor} as event ${event.id} on ${topic}; the rollout controller acts on its next tick`);
  } finally {
    await producer.disconnect();
  }
  return 0;
}

/**
 * riskloop's command line: `riskloop <command> [subcommand] [options]`, `riskloop --help`.
 * Each command is a function of its remaining arguments returning an exit code, so commands stay
 * testable in-process and this file stays a dispatcher.
 */
import process from 'node:process';
import { apiCommand } from './commands/api.js';
import { decisionsTailCommand } from './commands/decisionsTail.js';
import { modelsCommand } from './commands/models.js';
import { demoCommand } from './commands/demo.js';
import { produceCommand } from './commands/produce.js';
import { releaseCommand } from './commands/release.js';
import { replayCommand } from './commands/replay.js';
import { retrainCommand } from './commands/retrain.js';
import { runCommand } from './commands/run.js';
import { simulateCommand } from './commands/simulate.js';
import { topicsCreate, topicsList, type CommandIo } from './commands/topics.js';
import { train } from './commands/train.js';

interface Command {
  /** Words that select the command, e.g. ['topics', 'create']. */
  words: string[];
  summary: string;
  run(argv: string[], io: CommandIo): Promise<number>;
}

const COMMANDS: Command[] = [
  { words: ['demo'], summary: 'the whole loop end to end: simulate, decide, label, retrain, roll out, report', run: demoCommand },
  { words: ['run'], summary: 'run the risk loop (scale out by starting more with the same app id)', run: runCommand },
  { words: ['api'], summary: 'serve POST /v1/decisions: a decision within a deadline over HTTP (api/openapi.yaml)', run: apiCommand },
  { words: ['replay'], summary: 'reprocess a time range into a fresh application id, deterministically', run: replayCommand },
  { words: ['produce'], summary: 'publish transactions/KYC/devices/chargebacks/outcomes from JSONL files', run: produceCommand },
  { words: ['release'], summary: 'publish a model card as a release (champion, shadow, canary:N, retired)', run: releaseCommand },
  { words: ['decisions', 'tail'], summary: 'follow the decisions topic, pretty-printed and filterable', run: decisionsTailCommand },
  { words: ['topics', 'create'], summary: 'create every catalogue topic (idempotent; checks existing ones)', run: topicsCreate },
  { words: ['topics', 'list'], summary: 'list catalogue topics and their state on the cluster', run: topicsList },
  { words: ['simulate'], summary: 'generate seeded card traffic with fraud and labels, to files or the ingress topics', run: simulateCommand },
  { words: ['models'], summary: 'models and their lifecycle: stage, lineage, metrics, gates; `models history <version>`', run: modelsCommand },
  { words: ['train'], summary: 'train a candidate model on the training examples (Python trainer in .venv)', run: train },
  { words: ['retrain'], summary: 'retrain on schedule/labels/drift, gate, release as shadow, run the rollout (--once: one step)', run: retrainCommand },
];

function help(io: CommandIo, prefix: string[] = []): void {
  io.out(`usage: riskloop ${prefix.length ? prefix.join(' ') + ' ' : ''}<command> [options]`);
  io.out('');
  io.out('commands:');
  const shown = COMMANDS.filter((c) => prefix.every((w, i) => c.words[i] === w));
  const width = Math.max(...shown.map((c) => c.words.join(' ').length));
  for (const c of shown) io.out(`  ${c.words.join(' ').padEnd(width)}  ${c.summary}`);
  io.out('');
  io.out('Run `riskloop <command> --help` for its options.');
}

export async function main(argv: string[], io: CommandIo): Promise<number> {
  const command = COMMANDS.find((c) => c.words.every((w, i) => argv[i] === w));
  if (command) return command.run(argv.slice(command.words.length), io);
  const words = argv.filter((a) => !a.startsWith('-'));
  const wantsHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h');
  // `riskloop topics` or `riskloop topics --help`: the commands of that group.
  const group = COMMANDS.some((c) => c.words[0] === words[0]) ? [words[0]!] : [];
  if (wantsHelp || (group.length > 0 && words.length === 1)) {
    help(io, group);
    return 0;
  }
  io.err(`riskloop: unknown command '${words.join(' ')}'`);
  help({ ...io, out: io.err });
  return 2;
}

const io: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    io.err(`riskloop: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);

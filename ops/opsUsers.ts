/**
 * Makes entries for the ops server's users file (RISKLOOP_OPS_USERS_FILE). The password is read
 * from stdin, never from an argument (it would show in `ps` and the shell history):
 *
 *   printf '%s' "$PASSWORD" | node --import tsx ops/opsUsers.ts hash
 *       prints the scrypt hash for a {"name","role","password":"<hash>"} entry
 *   printf '%s' "$PASSWORD" | node --import tsx ops/opsUsers.ts add FILE NAME viewer|analyst|admin
 *       adds or replaces NAME in FILE (created with mode 600); the way to rotate a password too
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { hashPassword, ROLES, type Role } from './opsAuth.js';

export async function addUser(file: string, name: string, role: Role, password: string): Promise<void> {
  const users = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { name: string }[]) : [];
  const entry = { name, role, password: await hashPassword(password) };
  const next = [...users.filter((u) => u.name !== name), entry];
  writeFileSync(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

async function stdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [cmd, file, name, role] = process.argv.slice(2);
  const run = async (): Promise<void> => {
    if (cmd === 'hash') {
      process.stdout.write(`${await hashPassword(await stdin())}\n`);
    } else if (cmd === 'add' && file && name && (ROLES as readonly string[]).includes(role ?? '')) {
      const password = await stdin();
      if (password.length < 12) throw new Error('passwords are at least 12 characters');
      await addUser(file, name, role as Role, password);
      process.stdout.write(`${name} (${role}) written to ${file}\n`);
    } else {
      throw new Error('usage: ops/opsUsers.ts hash | add FILE NAME viewer|analyst|admin   (password on stdin)');
    }
  };
  run().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  });
}

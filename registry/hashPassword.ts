/**
 * Prints the scrypt hash of a password for the registry's users file (registry/auth.ts):
 *   printf '%s' "$PASSWORD" | node --import tsx registry/hashPassword.ts
 *   node --import tsx registry/hashPassword.ts < password-file
 * The password comes on stdin, never as an argument (it would show in `ps` and shell history);
 * one trailing newline is dropped.
 */
import { hashPassword } from './auth.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
if (password.length === 0) {
  console.error('hashPassword: no password on stdin');
  process.exit(1);
}
console.log(await hashPassword(password));

/**
 * The account-token key material from the environment: the current key and the keys being rotated
 * out (docs/operations.md, "Rotating the account-token key"), each from a variable or, preferably, a
 * file a key store writes (so the key is in no process's environment listing). Errors name the
 * variable and the file, never the content.
 *
 *   RISKLOOP_ACCOUNT_TOKEN_KEY / RISKLOOP_ACCOUNT_TOKEN_KEY_FILE                  current key (hex or base64, >= 32 bytes)
 *   RISKLOOP_PREVIOUS_ACCOUNT_TOKEN_KEYS / RISKLOOP_PREVIOUS_ACCOUNT_TOKEN_KEYS_FILE  old keys, comma- or line-separated
 */
import { readFileSync } from 'node:fs';

type Env = Readonly<Record<string, string | undefined>>;

function fromEnvOrFile(env: Env, name: string): string | undefined {
  const inline = env[name];
  const file = env[`${name}_FILE`];
  if (inline !== undefined && file !== undefined) throw new Error(`invalid configuration: set ${name} or ${name}_FILE, not both`);
  if (file === undefined) return inline;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    // The code (ENOENT, EACCES), not the message: a message could one day quote what it read.
    throw new Error(`invalid configuration: cannot read ${name}_FILE ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export function accountTokenKeysFromEnv(env: Env): { accountTokenKey: string | undefined; previousAccountTokenKeys: string[] } {
  const previous = fromEnvOrFile(env, 'RISKLOOP_PREVIOUS_ACCOUNT_TOKEN_KEYS');
  return {
    accountTokenKey: fromEnvOrFile(env, 'RISKLOOP_ACCOUNT_TOKEN_KEY'),
    previousAccountTokenKeys: (previous ?? '')
      .split(/[\s,]+/)
      .filter((k) => k.length > 0),
  };
}

/**
 * Masks card numbers in arbitrary bytes: the last pass over whatever bytes a dead letter keeps
 * (schemas/deadLetter.ts keeps raw bytes only when they were scrubbed or come from a tokenized
 * topic), and over error texts and forwarded headers. It works on bytes rather than a decoded
 * record because those bytes may not decode.
 *
 * Every run of 12 or more ASCII digits (PANs are 12 to 19 digits; longer runs are masked too, since a
 * PAN glued to other digits is still a PAN), and every card number grouped the way humans type
 * them (see maskGrouped), keeps its first 6 and last 4 digits (BIN and last 4, which the loop keeps
 * anyway) and has the digits between replaced by '*'. Masking is length-preserving, so an Avro
 * string keeps its length prefix and a masked Avro record still decodes. No Luhn check on purpose:
 * over-masking an order number in a dead letter is cheap, leaking a mistyped PAN is not.
 */

const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;
const DASH = 0x2d;
const STAR = 0x2a;
const MIN_DIGITS = 12;
const KEEP_HEAD = 6;
const MIN_GROUP = 3;
const MAX_GROUP = 6;
const KEEP_TAIL = 4;

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= ZERO && b <= NINE;

/** Returns a masked copy of `bytes` (the input is never modified), and whether anything was masked. */
export function maskPans(bytes: Buffer): { bytes: Buffer; masked: boolean } {
  // Contiguous runs first: in Avro a string's length prefix can be a space (0x20 is the length of a
  // 16-character string) or a dash, so a grouped pass alone would glue the PAN to the previous
  // field's digits and mask its BIN instead of keeping it. The grouped pass then finds what humans
  // typed with separators; already-masked digits no longer count there.
  const contiguous = maskContiguous(bytes);
  const grouped = maskGrouped(contiguous ?? bytes);
  const out = grouped ?? contiguous;
  return out ? { bytes: out, masked: true } : { bytes, masked: false };
}

function maskDigits(out: Buffer, positions: readonly number[]): void {
  for (let k = KEEP_HEAD; k < positions.length - KEEP_TAIL; k++) out[positions[k]!] = STAR;
}

/** Positions of each maximal run of consecutive digits starting at or after `from`. */
function digitRunAt(bytes: Buffer, from: number): number[] {
  const run: number[] = [];
  for (let j = from; j < bytes.length && isDigit(bytes[j]); j++) run.push(j);
  return run;
}

function maskContiguous(bytes: Buffer): Buffer | undefined {
  let out: Buffer | undefined;
  for (let i = 0; i < bytes.length; ) {
    const run = digitRunAt(bytes, i);
    if (run.length === 0) {
      i++;
      continue;
    }
    if (run.length >= MIN_DIGITS) maskDigits((out ??= Buffer.from(bytes)), run);
    i = run[run.length - 1]! + 1;
  }
  return out;
}

/**
 * Card numbers typed in groups (4-4-4-4, 4-6-5, 4-4-4-4-3): consecutive groups of 3 to 6 digits
 * joined by single spaces or dashes. Longer groups (dates, ids) break a sequence, so an id like
 * 20240614-000917 is left alone while "order 12345678 4111 1111 1111 1111" still loses its PAN.
 */
function maskGrouped(bytes: Buffer): Buffer | undefined {
  let out: Buffer | undefined;
  let window: number[] = [];
  const flush = (): void => {
    if (window.length >= MIN_DIGITS) maskDigits((out ??= Buffer.from(bytes)), window);
    window = [];
  };
  for (let i = 0; i < bytes.length; ) {
    const group = digitRunAt(bytes, i);
    if (group.length === 0) {
      i++;
      continue;
    }
    const end = group[group.length - 1]! + 1;
    // A group running into '*' is the kept BIN of a PAN the contiguous pass masked: not part of this.
    if (group.length >= MIN_GROUP && group.length <= MAX_GROUP && bytes[end] !== STAR) window.push(...group);
    else flush();
    const joined = (bytes[end] === SPACE || bytes[end] === DASH) && isDigit(bytes[end + 1]);
    if (!joined) flush();
    i = end;
  }
  flush();
  return out;
}

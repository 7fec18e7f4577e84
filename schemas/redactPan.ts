/**
 * Masks card numbers in arbitrary bytes, for the one place raw ingress bytes could leak past
 * ingress: dead letters. It works on bytes rather than a decoded record because a dead letter's
 * bytes are, by definition, ones that may not decode.
 *
 * Every run of 12 or more ASCII digits (PANs are 12 to 19 digits; longer runs are masked too, since a
 * PAN glued to other digits is still a PAN), optionally grouped by single spaces or dashes as humans
 * type card numbers, keeps its first 6 and last 4 digits (BIN and last 4, which the loop keeps
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
const KEEP_TAIL = 4;

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= ZERO && b <= NINE;

/** Returns a masked copy of `bytes` (the input is never modified), and whether anything was masked. */
export function maskPans(bytes: Buffer): { bytes: Buffer; masked: boolean } {
  let out: Buffer | undefined;
  let i = 0;
  while (i < bytes.length) {
    if (!isDigit(bytes[i])) {
      i++;
      continue;
    }
    // Collect one run: digits, with a single separator allowed between two digits.
    const digitPositions: number[] = [];
    let j = i;
    while (j < bytes.length) {
      if (isDigit(bytes[j])) {
        digitPositions.push(j);
        j++;
      } else if ((bytes[j] === SPACE || bytes[j] === DASH) && isDigit(bytes[j - 1]) && isDigit(bytes[j + 1])) {
        j++;
      } else {
        break;
      }
    }
    if (digitPositions.length >= MIN_DIGITS) {
      out ??= Buffer.from(bytes);
      for (let k = KEEP_HEAD; k < digitPositions.length - KEEP_TAIL; k++) out[digitPositions[k]!] = STAR;
    }
    i = j;
  }
  return out ? { bytes: out, masked: true } : { bytes, masked: false };
}

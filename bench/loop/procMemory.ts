/**
 * Where a process's resident memory lives, from /proc/<pid>/smaps (Linux only), so that the soak
 * can say which part of RSS grows: process.memoryUsage() sees the V8 heap and the Buffers V8 knows
 * about, RocksDB's properties see its memtables, caches and table readers, and neither sees the
 * allocator's own arenas or what native code mallocs without accounting for it.
 *
 * glibc's secondary malloc arenas (one per thread that contends, up to 8 × cores by default) are
 * mmapped heaps of HEAP_MAX_SIZE = 64 MiB, aligned to 64 MiB, whose unused tail is PROT_NONE: an
 * anonymous rw-p mapping at a 64 MiB boundary followed by a ---p mapping that together make 64 MiB.
 * The main arena is the [heap] (brk) mapping. Everything else anonymous is V8's heap spaces, large
 * mallocs (≥ the mmap threshold) and thread stacks.
 */
import { readFileSync } from 'node:fs';

const ARENA = 64 * 2 ** 20;

export interface ProcMemory {
  /** Resident bytes of glibc's secondary arenas, and how many there are. */
  arenas: number;
  arenaCount: number;
  /** Resident bytes of the brk heap (glibc's main arena). */
  brkHeap: number;
  /** Resident bytes of all other anonymous mappings (V8 heap spaces, large mallocs, stacks). */
  otherAnon: number;
  /** Resident bytes of file-backed mappings (code, RocksDB's mmapped files if any). */
  file: number;
  threads: number;
}

interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  rss: number;
}

function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      cur = { start: parseInt(header[1]!, 16), end: parseInt(header[2]!, 16), perms: header[3]!, path: header[4]!.trim(), rss: 0 };
      out.push(cur);
    } else if (cur && line.startsWith('Rss:')) {
      cur.rss = Number(line.slice(4).trim().split(/\s+/)[0]) * 1024;
    }
  }
  return out;
}

/** Classifies the resident memory of one smaps text (exported for the unit test). */
export function classifySmaps(text: string): Omit<ProcMemory, 'threads'> {
  const maps = parseSmaps(text);
  const out = { arenas: 0, arenaCount: 0, brkHeap: 0, otherAnon: 0, file: 0 };
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    if (m.path === '[heap]') {
      out.brkHeap += m.rss;
      continue;
    }
    if (m.path !== '' && !m.path.startsWith('[anon')) {
      out.file += m.rss;
      continue;
    }
    // An arena: rw-p at a 64 MiB boundary, alone or with its PROT_NONE tail, spanning 64 MiB.
    const next = maps[i + 1];
    const tailEnd = next && next.start === m.end && next.perms === '---p' && next.path === '' ? next.end : m.end;
    if (m.perms === 'rw-p' && m.start % ARENA === 0 && tailEnd - m.start === ARENA) {
      out.arenas += m.rss + (tailEnd !== m.end ? next!.rss : 0);
      out.arenaCount++;
      if (tailEnd !== m.end) i++;
      continue;
    }
    out.otherAnon += m.rss;
  }
  return out;
}

export function procMemory(pid: number | 'self' = 'self'): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  return { ...classifySmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8')), threads };
}

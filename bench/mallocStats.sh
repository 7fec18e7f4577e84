#!/bin/bash
# glibc's heap statistics of a running process (a riskloop run, a soak's loop worker), and what
# malloc_trim(0) gives back: malloc_info XML before and after the trim, RSS and brk-heap RSS around it.
# Needs gdb and ptrace rights over the process (root, or the same user with ptrace_scope 0).
#   bench/mallocStats.sh PID [OUT_PREFIX] [--no-trim]
# Writes OUT_PREFIX-before.xml (and -after.xml) and prints the RSS figures. Each <heap> is an arena
# (nr 0 the main one, the brk heap): bytes in use = <system type="current"> − the "fast" and "rest"
# free totals.
set -euo pipefail
pid=$1; out=${2:-/tmp/malloc-$1}; trim=${3:-}
rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
brk() { awk '/\[heap\]/{h=1;next} /^[0-9a-f]+-/{h=0} h&&/^Rss:/{print $2}' "/proc/$pid/smaps"; }
echo "before: rss $(rss) KiB, brk heap $(brk) KiB"
args=(-ex "set \$f = (void*)fopen(\"$out-before.xml\",\"w\")" -ex 'call (int)malloc_info(0,$f)' -ex 'call (int)fclose($f)')
if [ "$trim" != "--no-trim" ]; then
  args+=(-ex 'call (int)malloc_trim(0)' -ex "set \$g = (void*)fopen(\"$out-after.xml\",\"w\")" -ex 'call (int)malloc_info(0,$g)' -ex 'call (int)fclose($g)')
fi
gdb -p "$pid" -batch -q "${args[@]}" > "$out.gdb.log" 2>&1
[ "$trim" != "--no-trim" ] && echo "after malloc_trim(0): rss $(rss) KiB, brk heap $(brk) KiB"
exit 0

// @ts-check
/**
 * The orphan guard's helper process (orphan-guard.ts starts it, detached: a process group of its
 * own). Plain JavaScript, checked by tsc through the comment above: it starts with the agent and runs
 * under bare node, without the TypeScript loader the agent has.
 *
 * Reads the process groups to watch from stdin, one a line: `+PGID` when a command starts, `-PGID`
 * once it is gone. When stdin ends, which the kernel does however the agent ends, it SIGKILLs every
 * group still listed and exits. Deaf to the terminal's signals: a Ctrl-C or hangup that reaches the
 * agent's group must not end the guard before the agent has ended its commands.
 */
import readline from 'node:readline';

/** @type {NodeJS.Signals[]} */
const TERMINAL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** @type {Set<number>} */
const groups = new Set();

for (const signal of TERMINAL_SIGNALS) process.on(signal, () => undefined);

/** @param {string} line */
function read(line) {
  const match = /^([+-])(\d+)$/.exec(line.trim());
  const pgid = Number(match?.[2]);
  // Group 0 means the caller's own group and 1 would be init's: never a command's.
  if (!match || !(pgid > 1)) return;
  if (match[1] === '+') groups.add(pgid);
  else groups.delete(pgid);
}

function killAll() {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  process.exit(0);
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', read);
lines.on('close', killAll);
// A broken pipe is the agent gone, too.
process.stdin.on('error', killAll);

/**
 * Fixed ports for the servers a test starts and restarts itself (its own PostgreSQL or influxd): above
 * the kernel's ephemeral range, so none of the suite's many outgoing connections can hold one when the
 * server binds it (an influxd on a port inside the range once found it taken and never started).
 */
import fs from 'node:fs';

const MAX_PORT = 65_535;

/** The highest port the kernel hands to outgoing connections (Linux's default range ends at 60999). */
function ephemeralTop(): number {
  try {
    const [, top] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (top !== undefined && Number.isInteger(top)) return top;
  } catch {
    // not Linux: assume its default
  }
  return 60_999;
}

/** The `offset`-th port above the ephemeral range; each test file takes offsets of its own. */
export function quietPort(offset: number): number {
  const port = ephemeralTop() + 1 + offset;
  if (port > MAX_PORT) throw new Error(`no port above the ephemeral range for offset ${offset} (range ends at ${ephemeralTop()})`);
  return port;
}

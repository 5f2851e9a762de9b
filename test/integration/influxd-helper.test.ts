/**
 * The tests' own influxd (test/helpers/influxd.ts) on a port something else holds: its start fails at
 * once, with what influxd said, instead of polling for 20 s and saying only that it did not start
 * (CI lost a run that way: an outgoing connection held a port inside the ephemeral range). And the
 * ports such servers take lie above that range.
 */
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { influxd, testInfluxUrl } from '../helpers/influxd.ts';
import { quietPort } from '../helpers/ports.ts';

describe.skipIf(testInfluxUrl() === null)("the tests' own influxd", () => {
  it('fails at once, saying why, when its port is held by an outgoing connection', async () => {
    const url = new URL(testInfluxUrl() as string);
    const held = net.connect(Number(url.port), url.hostname);
    await new Promise((resolve, reject) => held.once('connect', resolve).once('error', reject));
    try {
      const t0 = Date.now();
      await expect(influxd(held.localPort as number).start()).rejects.toThrow(
        /influxd exited \(1\) before answering[\s\S]*address already in use/,
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      held.destroy();
    }
  }, 30_000);

  it('takes ports above the kernel ephemeral range', () => {
    const top = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[1]);
    expect(quietPort(0)).toBe(top + 1);
    expect(() => quietPort(70_000)).toThrow(/no port above the ephemeral range/);
  });
});

/**
 * The value of `caliper agent --metrics-server [host:]port`: where the agent's Prometheus endpoint
 * listens. Loopback unless a host is named, since the endpoint has no authentication
 * (docs/operations.md, "Agent metrics"). Kept apart from metrics-server.ts so that the agent checks
 * the flag without loading the metrics library.
 */
export const DEFAULT_METRICS_HOST = '127.0.0.1';
/** The port AlloyCI's and GitLab's runners serve their metrics on. */
export const DEFAULT_METRICS_PORT = 9252;

export interface ListenAddress {
  host: string;
  port: number;
}

/** A port: digits only, 0–65535 (0: any free port, which the agent then logs). */
function port(text: string, value: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new Error(`--metrics-server "${value}": the port must be a number from 0 to 65535`);
  return n;
}

/**
 * `9252`, `0.0.0.0:9252`, `[::1]:9252`, `localhost` (default port) or `:9252` (default host); an
 * empty value: both defaults. Throws an error naming the value and what is wrong with it.
 */
export function parseMetricsAddress(value: string): ListenAddress {
  const text = value.trim();
  if (text === '') return { host: DEFAULT_METRICS_HOST, port: DEFAULT_METRICS_PORT };
  if (/^\d+$/.test(text)) return { host: DEFAULT_METRICS_HOST, port: port(text, value) };
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const [, host = '', rest] = bracketed;
    return { host, port: rest === undefined ? DEFAULT_METRICS_PORT : port(rest, value) };
  }
  const colons = text.split(':').length - 1;
  if (colons > 1) throw new Error(`--metrics-server "${value}": write an IPv6 address in brackets, e.g. [::1]:${DEFAULT_METRICS_PORT}`);
  const [host = '', rest] = text.split(':');
  if (host !== '' && !/^[A-Za-z0-9.-]+$/.test(host))
    throw new Error(`--metrics-server "${value}": "${host}" is not a host name or address`);
  return { host: host || DEFAULT_METRICS_HOST, port: rest === undefined ? DEFAULT_METRICS_PORT : port(rest, value) };
}

/** Minimal leveled logger; a part takes one in its constructor instead of reaching for a global. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function consoleLogger(prefix = 'master', quiet = false): Logger {
  const line = (level: string, msg: string, fields?: Record<string, unknown>) =>
    `${new Date().toISOString()} ${level} [${prefix}] ${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`;
  return {
    info: (m, f) => {
      if (!quiet) console.log(line('info', m, f));
    },
    warn: (m, f) => console.warn(line('warn', m, f)),
    error: (m, f) => console.error(line('error', m, f)),
  };
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * After a force or rebuild: polls `GET /builds?buildrequestid=ID` every 500 ms for up to 60 s until the
 * request's build exists. The only polling in the UI; everything else is pushed over /ws.
 */
import type { Api } from './api.ts';
import type { Build, Meta } from '../../protocol/api-types.ts';

const INTERVAL_MS = 500;
const TIMEOUT_MS = 60_000;

/** The build's id, or null when none started in time. Rejects with AbortError when `signal` aborts. */
export async function waitForBuild(api: Api, buildrequestid: number, signal: AbortSignal): Promise<number | null> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const res = await api.get<{ builds: Pick<Build, 'buildid'>[]; meta: Meta }>(
      '/builds',
      { buildrequestid, field: 'buildid', order: '-buildid', limit: 1 },
      signal,
    );
    const first = res.builds[0];
    if (first) return first.buildid;
    if (Date.now() + INTERVAL_MS > deadline) return null;
    await sleep(INTERVAL_MS, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new DOMException('aborted', 'AbortError'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

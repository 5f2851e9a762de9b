/** Protocol frames the tests speak by hand: an agent's hello, as the real agent sends it. */
import { PROTOCOL_VERSION } from '../../protocol/messages.ts';

/** A hello the master accepts for agent `a1` with `token`; `over` replaces or adds keys. */
export function helloMessage(token: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    name: 'a1',
    token,
    version: 't',
    os: 't',
    labels: [],
    capacity: 1,
    running: [],
    ...over,
  };
}

export const helloFrame = (token: string, over: Record<string, unknown> = {}): string => JSON.stringify(helloMessage(token, over));

/**
 * The live event stream from the master (`/ws`).
 *
 * States and transitions:
 *   idle ──start()──▶ connecting ──open──▶ open ──close/error──▶ waiting ──timer──▶ connecting
 *   any ──stop()──▶ idle
 * The wait after a lost connection doubles from 1 s up to 10 s and is reset by a successful open.
 * Log subscriptions are kept here: each change sends the full list of log ids, and every (re)open
 * sends it again, so the server never needs to remember a client. Listeners registered with
 * onReconnect run after a re-open: events were missed meanwhile, so pages reload what they show.
 */

export interface LiveEvents {
  'build.started': { buildid: number; builderid: number; number: number; agent: string; buildrequestid: number };
  'build.finished': { buildid: number; builderid: number; number: number; results: number; durationMs: number };
  'step.started': { buildid: number; stepid: number; number: number; name: string };
  'step.finished': { buildid: number; stepid: number; name: string; results: number; durationMs: number };
  'agent.connected': { name: string };
  'agent.disconnected': { name: string };
  'log.appended': { logid: number; stepid: number; first_line: number; text: string };
  'buildrequest.new': { buildrequestid: number; builderid: number };
  /** A request ended: built, or cancelled before any build (results 6). */
  'buildrequest.complete': { buildrequestid: number; results: number };
  /** This client was too slow and missed output of the log: read it again. */
  'log.gap': { logid: number };
  /** The master loaded a new config: builders, agents or schedulers were added, removed or changed (by name). */
  'master.reconfigured': Record<'builders' | 'agents' | 'schedulers', { added: string[]; removed: string[]; changed: string[] }>;
}
export type LiveEventName = keyof LiveEvents;

export const LiveState = { idle: 'idle', connecting: 'connecting', open: 'open', waiting: 'waiting' } as const;
export type LiveState = (typeof LiveState)[keyof typeof LiveState];

type Handler<K extends LiveEventName> = (data: LiveEvents[K]) => void;
export type LogEvent = { type: 'appended'; data: LiveEvents['log.appended'] } | { type: 'gap' };
type LogHandler = (e: LogEvent) => void;

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 10_000;
/** The master takes at most this many log ids per subscription (and closes the socket beyond). */
const MAX_LOG_SUBSCRIPTIONS = 100;

export class LiveClient {
  private ws: WebSocket | null = null;
  private state: LiveState = LiveState.idle;
  private delay = MIN_DELAY_MS;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private openedBefore = false;
  private subscriptionQueued = false;
  private readonly handlers = new Map<LiveEventName, Set<(data: never) => void>>();
  private readonly logHandlers = new Map<number, Set<LogHandler>>();
  private readonly reconnectHandlers = new Set<() => void>();
  private readonly stateHandlers = new Set<(state: LiveState) => void>();

  constructor(private readonly url: string = defaultUrl()) {}

  start(): void {
    if (this.state !== LiveState.idle) return;
    this.connect();
  }

  stop(): void {
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.setState(LiveState.idle);
  }

  on<K extends LiveEventName>(event: K, handler: Handler<K>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    const fn = handler as (data: never) => void;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Several events, one handler: what pages use to know "something changed, reload". */
  onAny(events: LiveEventName[], handler: () => void): () => void {
    const offs = events.map((e) => this.on(e, () => handler()));
    return () => offs.forEach((off) => off());
  }

  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  onState(handler: (state: LiveState) => void): () => void {
    this.stateHandlers.add(handler);
    handler(this.state);
    return () => this.stateHandlers.delete(handler);
  }

  /** Receives `log.appended` (and `log.gap`) for this log until the returned function is called. */
  subscribeLog(logid: number, handler: LogHandler): () => void {
    let set = this.logHandlers.get(logid);
    if (!set) {
      this.logHandlers.set(logid, (set = new Set()));
      this.queueSubscription();
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.logHandlers.get(logid) === set) {
        this.logHandlers.delete(logid);
        this.queueSubscription();
      }
    };
  }

  get connected(): boolean {
    return this.state === LiveState.open;
  }

  private connect(): void {
    this.setState(LiveState.connecting);
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.delay = MIN_DELAY_MS;
      this.setState(LiveState.open);
      this.sendSubscription();
      if (this.openedBefore) for (const fn of [...this.reconnectHandlers]) safely(fn);
      this.openedBefore = true;
    });
    ws.addEventListener('message', (e: MessageEvent<unknown>) => {
      if (this.ws === ws && typeof e.data === 'string') this.dispatch(e.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    });
    // An error is always followed by close, which retries.
  }

  private retry(): void {
    this.setState(LiveState.waiting);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }

  private dispatch(raw: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const { type, event, data } = msg as { type?: unknown; event?: unknown; data?: unknown };
    if (type !== 'event' || typeof event !== 'string' || typeof data !== 'object' || data === null) return;
    if (event === 'log.appended' || event === 'log.gap') {
      const d = data as LiveEvents['log.appended'];
      const e: LogEvent = event === 'log.gap' ? { type: 'gap' } : { type: 'appended', data: d };
      for (const fn of [...(this.logHandlers.get(d.logid) ?? [])]) safely(() => fn(e));
    }
    for (const fn of [...(this.handlers.get(event as LiveEventName) ?? [])]) safely(() => fn(data as never));
  }

  /** Changes in one task (a page mounting ten log viewers) go out as one message. */
  private queueSubscription(): void {
    if (this.subscriptionQueued) return;
    this.subscriptionQueued = true;
    queueMicrotask(() => {
      this.subscriptionQueued = false;
      this.sendSubscription();
    });
  }

  private sendSubscription(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    // Over the master's limit, the latest subscriptions win (Map keeps insertion order).
    const logs = [...this.logHandlers.keys()].slice(-MAX_LOG_SUBSCRIPTIONS).sort((a, b) => a - b);
    this.ws.send(JSON.stringify({ type: 'subscribe', logs }));
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    for (const fn of [...this.stateHandlers]) safely(() => fn(state));
  }
}

function defaultUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    console.error('live event handler failed', e);
  }
}

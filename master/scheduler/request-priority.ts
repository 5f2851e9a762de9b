/**
 * A build request's priority (higher first): the one its submission gives (a force's `priority`),
 * else its scheduler's `priority`, else its builder's `priority` (default 0). Resolved once, when the
 * request is stored, so the queue is claimed by what the API shows.
 */
export interface QueuePriorities {
  /** The schedulers that set a `priority`, by name. */
  schedulers: ReadonlyMap<string, number>;
  /** Every builder's `priority`, by name. */
  builders: ReadonlyMap<string, number>;
}

interface Prioritized {
  name: string;
  priority?: number | undefined;
}

export function queuePriorities(config: { schedulers: readonly Prioritized[]; builders: readonly Prioritized[] }): QueuePriorities {
  const given = (list: readonly Prioritized[]) =>
    new Map(list.flatMap((x) => (x.priority === undefined ? [] : [[x.name, x.priority] as const])));
  return { schedulers: given(config.schedulers), builders: given(config.builders) };
}

export function requestPriority(
  priorities: QueuePriorities | undefined,
  given: number | undefined,
  scheduler: string | null,
  builder: string,
): number {
  return given ?? (scheduler === null ? undefined : priorities?.schedulers.get(scheduler)) ?? priorities?.builders.get(builder) ?? 0;
}

/** Schedulers turn something happening (a user's click, time passing) into build requests. */
export interface ForceSchedulerConfig {
  type: 'force';
  name: string;
  builderNames: string[];
}

export interface PeriodicSchedulerConfig {
  type: 'periodic';
  name: string;
  builderNames: string[];
  /** Seconds between builds. */
  periodicBuildTimer: number;
  reason?: string;
  properties?: Record<string, unknown>;
}

export type SchedulerConfig = ForceSchedulerConfig | PeriodicSchedulerConfig;

/** Lets users force builds of these builders (API `POST /builders/{name}/force`, the UI's button). */
export function forceScheduler(options: Omit<ForceSchedulerConfig, 'type'>): ForceSchedulerConfig {
  return { type: 'force', ...options };
}

/** Requests a build of each builder every `periodicBuildTimer` seconds. */
export function periodicScheduler(options: Omit<PeriodicSchedulerConfig, 'type'>): PeriodicSchedulerConfig {
  return { type: 'periodic', ...options };
}

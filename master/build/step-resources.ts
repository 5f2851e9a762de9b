/**
 * What a step's commands used on their agent: CPU time summed over the commands (they run one after
 * another), and the highest peak memory of any of them. Stored at the step's end as the series
 * `step_cpu_seconds` and `step_max_rss_bytes` (docs/metrics.md), tagged by builder, step and agent.
 */
import type { StepMetrics } from '../../metrics/step-metrics.ts';
import type { CommandResources } from '../../protocol/messages.ts';

export interface StepResourceTags {
  builder: string;
  step: string;
  agent: string;
  buildNumber: number;
  buildid: number;
}

export class StepResources {
  private cpuSeconds: number | null = null;
  private maxRssBytes: number | null = null;

  /** One command's figures, as its agent measured them (its `exit`'s `resources`). */
  add(r: CommandResources): void {
    this.cpuSeconds = (this.cpuSeconds ?? 0) + r.userSeconds + r.systemSeconds;
    if (r.maxRssBytes !== undefined) this.maxRssBytes = Math.max(this.maxRssBytes ?? 0, r.maxRssBytes);
  }

  /**
   * Stores the figures (nothing when no command reported any). Never rejects: a figure lost is not
   * worth a step's result, and the metrics service spools what its store refuses.
   */
  async capture(metrics: StepMetrics, t: StepResourceTags): Promise<void> {
    const { cpuSeconds, maxRssBytes } = this;
    if (cpuSeconds === null) return;
    const common = { tags: { builder: t.builder, step: t.step, agent: t.agent }, buildNumber: t.buildNumber, buildid: t.buildid };
    try {
      await metrics.capture('step_cpu_seconds', Math.round(cpuSeconds * 1000) / 1000, { ...common, kind: 'duration', unit: 's' });
      if (maxRssBytes !== null) await metrics.capture('step_max_rss_bytes', maxRssBytes, { ...common, kind: 'size', unit: 'bytes' });
    } catch {
      // Dropped, as above.
    }
  }
}

/**
 * One step of the build page: a row (number, name, result, state, duration) that expands to the
 * step's logs, its measured values and a chart per series over the builder's history.
 *
 * States: collapsed ──open──▶ expanded (the first opening loads logs and charts; they stay loaded, so
 * closing and reopening costs nothing). Every step starts collapsed, whatever its state, so a click
 * on a step always opens it; its result shows as a coloured edge instead (data-result).
 * Its logs follow live output while it runs; a log that appears later is added on the next update.
 */
import type { BuildMetric, Page, Step } from '../../../protocol/api-types.ts';
import type { PageContext } from '../context.ts';
import { h, replaceChildren } from '../dom.ts';
import { formatDuration, spanSeconds } from '../format.ts';
import { resultBadge, setResult } from '../components/result-badge.ts';
import { LogViewer } from '../components/log-viewer.ts';
import { metricChart } from '../components/chart.ts';
import { metricValues } from '../components/metric-values.ts';
import { coalesced } from '../refresh.ts';

const HISTORY_POINTS = 200;

export class StepView {
  readonly el: HTMLLIElement;
  private readonly details: HTMLDetailsElement;
  private readonly badge: HTMLSpanElement;
  private readonly state = h('span', { class: 'step-state' });
  private readonly duration = h('span', { class: 'step-duration' });
  private readonly logsBox = h('div', { class: 'step-logs' });
  private readonly valuesBox = h('div', { class: 'step-metrics' });
  private readonly chartsBox = h('div', { class: 'metric-grid step-charts' });
  private readonly viewers = new Map<number, LogViewer>();
  private readonly charted = new Set<string>();
  private readonly reloadLogs: () => void;
  private loaded = false;
  private points: BuildMetric[] = [];
  private units: ReadonlyMap<string, string | null> = new Map();

  constructor(
    private readonly ctx: PageContext,
    private step: Step,
    private readonly builderName: () => string | null,
  ) {
    this.badge = resultBadge(step.result, { class: 'step-result' });
    this.details = h(
      'details',
      null,
      h(
        'summary',
        { class: 'step-head' },
        h('span', { class: 'step-number' }, String(step.number + 1)),
        h('span', { class: 'step-name' }, step.name),
        this.badge,
        this.state,
        this.duration,
      ),
      h('div', { class: 'step-body' }, this.logsBox, this.valuesBox, this.chartsBox),
    );
    this.el = h('li', { class: 'step', 'data-step': step.name, 'data-stepid': step.stepid }, this.details);
    this.reloadLogs = coalesced(ctx.scope, () => this.loadLogs(), 50);
    this.details.addEventListener('toggle', () => {
      if (this.details.open) this.expand();
    });
    this.render();
  }

  get stepid(): number {
    return this.step.stepid;
  }

  get name(): string {
    return this.step.name;
  }

  private get running(): boolean {
    return !this.step.complete;
  }

  update(step: Step): void {
    const finished = this.running && step.complete;
    this.step = step;
    this.render();
    if (finished) for (const v of this.viewers.values()) v.stepFinished();
    if (this.loaded) this.reloadLogs();
  }

  /** This build's points for this step, with their baselines. */
  setMetrics(points: BuildMetric[], units: ReadonlyMap<string, string | null>): void {
    this.points = points;
    this.units = units;
    if (this.loaded) this.renderMetrics();
  }

  private render(): void {
    setResult(this.badge, this.step.result);
    this.state.textContent = this.step.state_string;
    this.duration.textContent = formatDuration(spanSeconds(this.step.started_at, this.step.complete_at));
    this.el.classList.toggle('running', this.running);
    this.el.dataset.result = this.step.result ?? 'running';
  }

  private expand(): void {
    if (this.loaded) return;
    this.loaded = true;
    replaceChildren(this.logsBox, h('p', { class: 'muted' }, 'loading logs…'));
    this.reloadLogs();
    this.renderMetrics();
  }

  private async loadLogs(): Promise<void> {
    try {
      const res = await this.ctx.api.get<Page<'logs'>>(`/steps/${this.step.stepid}/logs`, undefined, this.ctx.scope.signal);
      if (this.viewers.size === 0) replaceChildren(this.logsBox);
      for (const log of res.logs) {
        if (this.viewers.has(log.logid)) continue;
        const viewer = new LogViewer(this.ctx, log, this.running && log.complete !== true);
        this.viewers.set(log.logid, viewer);
        this.logsBox.appendChild(viewer.el);
      }
      if (this.viewers.size === 0) replaceChildren(this.logsBox, h('p', { class: 'muted' }, this.running ? 'no logs yet' : 'no logs'));
    } catch (e) {
      this.ctx.message.error(e, `Logs of step "${this.step.name}"`);
      if (this.viewers.size === 0) replaceChildren(this.logsBox, h('p', { class: 'error' }, 'logs could not be loaded'));
    }
  }

  private renderMetrics(): void {
    replaceChildren(this.valuesBox, this.points.length > 0 ? metricValues(this.points, this.units) : null);
    const builder = this.builderName();
    if (!builder) return;
    for (const series of new Set(this.points.map((p) => p.series))) {
      if (this.charted.has(series)) continue;
      this.charted.add(series);
      this.chartsBox.appendChild(
        h(
          'div',
          { class: 'card step-chart' },
          h('h4', null, series),
          metricChart(this.ctx, {
            series,
            builder,
            step: this.step.name,
            limit: HISTORY_POINTS,
            height: 150,
            ...(this.units.has(series) ? { unit: this.units.get(series) ?? null } : {}),
          }),
        ),
      );
    }
  }
}

/**
 * uPlot, loaded the first time a page needs it: it is its own chunk (scripts/build-ui.mjs), a third
 * of the UI's JavaScript, which the overview and the tables never download or compile. A chart asks
 * for it when it is made, so the chunk comes while the chart's points are on their way; the explorer
 * asks as the page renders. (A builder page that asked at once had the chunk's evaluation, 20–40 ms,
 * land just when its builds table arrived, and the table was drawn that much later.)
 * Its stylesheet stays in app.css (main.ts): a lazy chunk's CSS would not be loaded.
 */
import type uPlot from 'uplot';

export type UPlotClass = typeof uPlot;

let loading: Promise<UPlotClass> | null = null;

export function loadUplot(): Promise<UPlotClass> {
  loading ??= import('uplot').then((m) => m.default);
  return loading;
}

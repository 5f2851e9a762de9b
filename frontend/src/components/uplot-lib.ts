/**
 * uPlot, loaded the first time a page needs it: it is its own chunk (scripts/build-ui.mjs), a third
 * of the UI's JavaScript, which the overview and the tables never download or compile. A page that
 * charts calls loadUplot() as it renders, so the chunk comes beside the page's data, not after it.
 * Its stylesheet stays in app.css (main.ts): a lazy chunk's CSS would not be loaded.
 */
import type uPlot from 'uplot';

export type UPlotClass = typeof uPlot;

let loading: Promise<UPlotClass> | null = null;

export function loadUplot(): Promise<UPlotClass> {
  loading ??= import('uplot').then((m) => m.default);
  return loading;
}

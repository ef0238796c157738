// A line chart drawn with uPlot on a canvas. The canvas is described for screen readers by `label`, and every chart
// sits next to a table or figures that carry the same numbers.
import { useEffect, useRef } from '/console/vendor/hooks.mjs';
import uPlot from '/console/vendor/uplot.mjs';
import { html } from './format.js';

const COLOURS = ['#1f5fa8', '#b3461b', '#2e7d32', '#6a3d9a', '#8a6d00', '#00838f', '#ad1457', '#4e342e'];

/**
 * `xs`: epoch milliseconds; `series`: [{ label, values }]. Redraws in place when the data change, so a live view does
 * not flicker.
 */
export function LineChart({ label, xs, series, yLabel, height = 220 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = series.map((s) => s.label).join('\n');
  useEffect(() => {
    const width = Math.max(320, Math.min(960, box.current?.clientWidth ?? 800));
    const opts = {
      width,
      height,
      scales: { x: { time: true } },
      // The tables beside the charts are in UTC; so are the charts.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      axes: [{}, { label: yLabel }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2 }))],
    };
    plot.current = new uPlot(opts, [xs.map((x) => x / 1000), ...series.map((s) => s.values)], box.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, yLabel, height]);
  useEffect(() => {
    plot.current?.setData([xs.map((x) => x / 1000), ...series.map((s) => s.values)]);
  });
  return html`<div class="chart" role="img" aria-label=${label} ref=${box}></div>`;
}

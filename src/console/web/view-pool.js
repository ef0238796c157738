// Pool: the private site and each cloud location now, and the pool's size by location over the last 24 hours.
import { usePoll } from './api.js';
import { LineChart } from './chart.js';
import { Freshness, cpus, html, memory, usd } from './format.js';

export function PoolView() {
  const poll = usePoll(['/v1/status', '/v1/history/pool?resolution=minute']);
  const [status, history] = poll.data ?? [];
  return html`
    <h1>Pool</h1>
    <${Freshness} poll=${poll} />
    ${status &&
    html`
      <p>
        Cloud spend now: <strong data-figure="cloudSpendPerHourUsd">${usd(status.cloudSpendPerHourUsd)}</strong> per
        hour. Launches are <strong data-figure="paused">${status.paused ? 'paused' : 'allowed'}</strong>.${' '}
        Tasks: <span data-figure="pending">${status.tasks.pending}</span> pending,${' '}
        <span data-figure="running">${status.tasks.running}</span> running.
      </p>
      <table class="figures" aria-label="Pool by location">
        <thead>
          <tr>
            <th scope="col">Location</th>
            <th scope="col">Agents</th>
            <th scope="col">CPUs used</th>
            <th scope="col">CPUs free</th>
            <th scope="col">Memory used</th>
            <th scope="col">Memory free</th>
            <th scope="col">GPUs used</th>
            <th scope="col">GPUs free</th>
            <th scope="col">Spend per hour</th>
          </tr>
        </thead>
        <tbody>
          ${status.locations.map(
            (l) => html`
              <tr data-location=${l.location}>
                <th scope="row">${l.location}</th>
                <td data-field="agents">${l.agents}</td>
                <td data-field="cpuUsed">${cpus(l.allocated.cpuMillis)}</td>
                <td data-field="cpuFree">${cpus(l.free.cpuMillis)}</td>
                <td data-field="memoryUsed">${memory(l.allocated.memoryMiB)}</td>
                <td data-field="memoryFree">${memory(l.free.memoryMiB)}</td>
                <td data-field="gpusUsed">${l.allocated.gpus}</td>
                <td data-field="gpusFree">${l.free.gpus}</td>
                <td data-field="pricePerHourUsd">${usd(l.pricePerHourUsd)}</td>
              </tr>
            `,
          )}
        </tbody>
      </table>
    `}
    ${history && html`<h2>Agents by location, last 24 hours</h2>${historyChart(history)}`}
  `;
}

function historyChart(history) {
  const locations = [...new Set(history.points.flatMap((p) => Object.keys(p.locations)))].sort();
  if (locations.length === 0) return html`<p>No agents in the last 24 hours.</p>`;
  // From the first minute with an agent, so a pool that started an hour ago is not a thin line at the right edge.
  const first = history.points.findIndex((p) => Object.keys(p.locations).length > 0);
  const points = history.points.slice(Math.max(0, first - 1));
  return html`<${LineChart}
    label=${`Agents by location per minute since ${new Date(points[0].atMs).toISOString()}: ${locations.join(', ')}`}
    yLabel="agents"
    xs=${points.map((p) => p.atMs)}
    series=${locations.map((l) => ({ label: l, values: points.map((p) => p.locations[l]?.agents ?? 0) }))}
  />`;
}

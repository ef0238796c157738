// Chargeback: cost by team, project or job over a chosen window, private and cloud (on-demand, spot, idle), as CSV too.
import { useMemo, useState } from '/console/vendor/hooks.mjs';
import { usePoll } from './api.js';
import { csvOf } from './csv.js';
import { Freshness, html, usd } from './format.js';

const CHARGEBACK_POLL_MS = 60_000;

const COLUMNS = [
  ['privateUsd', 'Private'],
  ['onDemandUsd', 'On-demand'],
  ['spotUsd', 'Spot'],
  ['idleUsd', 'Idle'],
  ['cloudUsd', 'Cloud'],
  ['totalUsd', 'Total'],
];

export function ChargebackView() {
  const [by, setBy] = useState('team');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const query = new URLSearchParams({ by, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  // A report over a chosen window changes slowly and costs a read of its runs: once a minute, and at once when the
  // window changes, not every 2 s like the live views.
  const poll = usePoll([`/v1/reports/chargeback?${query}`], CHARGEBACK_POLL_MS);
  const [report] = poll.data ?? [];
  const csvUrl = useMemo(() => (report ? URL.createObjectURL(new Blob([csvOf(report, COLUMNS)], { type: 'text/csv' })) : ''), [report]);
  return html`
    <h1>Chargeback</h1>
    <form class="controls" onSubmit=${(e) => e.preventDefault()}>
      <label for="cb-by">By</label>
      <select id="cb-by" value=${by} onChange=${(e) => setBy(e.currentTarget.value)}>
        <option value="team">team</option>
        <option value="project">project</option>
        <option value="job">job</option>
      </select>
      <label for="cb-from">From (UTC, empty: this month)</label>
      <input id="cb-from" type="date" value=${from} onChange=${(e) => setFrom(e.currentTarget.value)} />
      <label for="cb-to">To (UTC, empty: now)</label>
      <input id="cb-to" type="date" value=${to} onChange=${(e) => setTo(e.currentTarget.value)} />
    </form>
    <${Freshness} poll=${poll} />
    ${report &&
    html`
      <p><a class="button" href=${csvUrl} download=${`chargeback-by-${report.by}.csv`}>Download CSV</a></p>
      <table class="figures" aria-label=${`Chargeback by ${report.by}`}>
        <thead>
          <tr>
            <th scope="col">${report.by}</th>
            ${COLUMNS.map(([, title]) => html`<th scope="col">${title}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${report.rows.map(
            (row) => html`
              <tr data-row=${ownerOf(row, report.by)}>
                <th scope="row">${ownerOf(row, report.by)}</th>
                ${COLUMNS.map(([key]) => html`<td data-field=${key}>${usd(row[key])}</td>`)}
              </tr>
            `,
          )}
        </tbody>
        <tfoot>
          <tr data-row="(total)">
            <th scope="row">Total</th>
            ${COLUMNS.map(([key]) => html`<td data-field=${key}>${usd(report.totals[key])}</td>`)}
          </tr>
        </tfoot>
      </table>
    `}
  `;
}

function ownerOf(row, by) {
  if (by === 'team') return row.team;
  if (by === 'project') return `${row.team}/${row.project ?? ''}`;
  return `${row.team}/${row.project ?? ''}/${row.job ?? ''}`;
}

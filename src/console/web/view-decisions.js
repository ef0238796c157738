// Decisions: recent launches and terminations with the reason each was made, and each provider's state.
import { usePoll } from './api.js';
import { Freshness, html, time, usd } from './format.js';

export function DecisionsView() {
  const poll = usePoll(['/v1/decisions?limit=50', '/v1/status']);
  const [answer, status] = poll.data ?? [];
  return html`
    <h1>Decisions</h1>
    <${Freshness} poll=${poll} />
    ${status && providersSection(status.providers)}
    ${answer &&
    html`
      <h2>Recent decisions</h2>
      ${answer.decisions.length === 0
        ? html`<p>No decision yet.</p>`
        : html`
            <table aria-label="Recent decisions">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Decision</th>
                  <th scope="col">For</th>
                  <th scope="col">Provider</th>
                  <th scope="col">State</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                ${answer.decisions.map(
                  (d) => html`
                    <tr data-decision=${d.id}>
                      <td>${time(d.createdAtMs)}</td>
                      <th scope="row" data-field="what">${what(d)}</th>
                      <td data-field="owners">${ownersOf(d)}</td>
                      <td>${d.providerId}</td>
                      <td data-field="state">${d.state}${d.error ? `: ${d.error}` : ''}</td>
                      <td data-field="reason">${d.reason}</td>
                    </tr>
                  `,
                )}
              </tbody>
            </table>
          `}
    `}
  `;
}

function what(d) {
  if (d.kind === 'terminate') return `terminate ${d.instanceIds.join(', ')}`;
  const o = d.offering;
  return `launch ${d.count} x ${o.instanceType} (${o.lifecycle}) in ${o.zone} at ${usd(o.pricePerHourUsd)}/h`;
}

function ownersOf(d) {
  if (!d.owners || d.owners.length === 0) return '—';
  return d.owners.map((o) => `${o.team}/${o.project} (${Math.round(o.share * 100)}%)`).join(', ');
}

function providersSection(providers) {
  return html`
    <h2>Providers</h2>
    ${providers.length === 0
      ? html`<p>No cloud provider is configured.</p>`
      : html`
          <table aria-label="Providers">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Health</th>
                <th scope="col">Open launch breakers</th>
                <th scope="col">Failing terminations</th>
              </tr>
            </thead>
            <tbody>
              ${providers.map(
                (p) => html`
                  <tr data-provider=${p.id}>
                    <th scope="row">${p.id}</th>
                    <td data-field="health">${p.health}</td>
                    <td>
                      ${p.breakers.length === 0
                        ? 'none'
                        : html`<ul>
                            ${p.breakers.map((b) => html`<li>${b.reason} (retry at ${time(b.retryAtMs)})</li>`)}
                          </ul>`}
                    </td>
                    <td>
                      ${p.failingTerminations.length === 0
                        ? 'none'
                        : html`<ul>
                            ${p.failingTerminations.map(
                              (t) => html`<li>${t.instanceIds.join(', ')}: ${t.error} (${t.attempts} attempts)</li>`,
                            )}
                          </ul>`}
                    </td>
                  </tr>
                `,
              )}
            </tbody>
          </table>
        `}
  `;
}

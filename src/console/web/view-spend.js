// Spend and budgets: cloud spend per hour and per day by provider, and each budget against its cap with a forecast.
import { usePoll } from './api.js';
import { LineChart } from './chart.js';
import { Freshness, budgetScopeText, html, percent, time, usd } from './format.js';

export function SpendView({ session }) {
  const finance = session.role === 'finance' || session.role === 'admin';
  const poll = usePoll([
    '/v1/history/spend?resolution=hour&last=24',
    '/v1/history/spend?resolution=day&last=14',
    ...(finance ? ['/v1/budgets/forecasts', '/v1/budgets/alerts?limit=20'] : []),
  ]);
  const [hourly, daily, forecasts, alerts] = poll.data ?? [];
  return html`
    <h1>Spend and budgets</h1>
    <${Freshness} poll=${poll} />
    ${hourly && spendSection('Cloud spend per hour, last 24 hours', 'hour', hourly.points)}
    ${daily && spendSection('Cloud spend per day, last 14 days', 'day', daily.points)}
    ${forecasts && budgetsSection(forecasts.forecasts)}
    ${alerts && alertsSection(alerts.alerts)}
  `;
}

function spendSection(title, unit, points) {
  const providers = [...new Set(points.flatMap((p) => Object.keys(p.cloudSpendUsd)))].sort();
  return html`
    <h2>${title}</h2>
    ${providers.length === 0
      ? html`<p>No cloud spend in this time.</p>`
      : html`
          <${LineChart}
            label=${`${title}, by provider: ${providers.join(', ')}`}
            yLabel="USD"
            height=${180}
            xs=${points.map((p) => p.atMs)}
            series=${providers.map((id) => ({ label: id, values: points.map((p) => p.cloudSpendUsd[id] ?? 0) }))}
          />
          <table class="figures" aria-label=${title}>
            <thead>
              <tr>
                <th scope="col">${unit === 'hour' ? 'Hour (UTC)' : 'Day (UTC)'}</th>
                ${providers.map((id) => html`<th scope="col">${id}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${points
                .filter((p) => Object.keys(p.cloudSpendUsd).length > 0)
                .reverse()
                .map(
                  (p) => html`
                    <tr data-spend=${unit} data-at=${p.atMs}>
                      <th scope="row">${unit === 'hour' ? time(p.atMs) : time(p.atMs).slice(0, 10)}</th>
                      ${providers.map((id) => html`<td data-provider=${id}>${usd(p.cloudSpendUsd[id] ?? 0)}</td>`)}
                    </tr>
                  `,
                )}
            </tbody>
          </table>
        `}
  `;
}

function budgetsSection(forecasts) {
  return html`
    <h2>Budgets</h2>
    ${forecasts.length === 0
      ? html`<p>No budget you may see.</p>`
      : html`
          <table class="figures" aria-label="Budgets">
            <thead>
              <tr>
                <th scope="col">Budget</th>
                <th scope="col">Scope</th>
                <th scope="col">Period</th>
                <th scope="col">Cap</th>
                <th scope="col">Spent</th>
                <th scope="col">Of cap</th>
                <th scope="col">Rate per hour</th>
                <th scope="col">Forecast to period end</th>
              </tr>
            </thead>
            <tbody>
              ${forecasts.map(
                (f) => html`
                  <tr data-budget=${f.name} class=${f.overCap ? 'over' : ''}>
                    <th scope="row">${f.name}</th>
                    <td>${budgetScopeText(f.scope)}</td>
                    <td>${f.period}</td>
                    <td data-field="capUsd">${usd(f.capUsd)}</td>
                    <td data-field="spentUsd">${usd(f.spentUsd)}</td>
                    <td>${percent(f.capUsd > 0 ? (f.spentUsd * 100) / f.capUsd : 0)}</td>
                    <td data-field="ratePerHourUsd">${usd(f.ratePerHourUsd)}</td>
                    <td data-field="forecastUsd">${usd(f.forecastUsd)}${f.overCap ? ' (over the cap)' : ''}</td>
                  </tr>
                `,
              )}
            </tbody>
          </table>
          ${forecasts
            .filter((f) => f.series.length > 1)
            .map(
              (f) => html`
                <h3>${f.name}: spend through the ${f.period} against its cap</h3>
                <${LineChart}
                  label=${`Spend of budget ${f.name} from ${time(f.fromMs)} to now, cap ${usd(f.capUsd)}, forecast ${usd(f.forecastUsd)} by ${time(f.toMs)}`}
                  yLabel="USD"
                  height=${160}
                  xs=${[...f.series.map((p) => p.atMs), f.toMs]}
                  series=${[
                    { label: 'spent', values: [...f.series.map((p) => p.spentUsd), null] },
                    { label: 'cap', values: [...f.series.map(() => f.capUsd), f.capUsd] },
                    {
                      label: 'forecast',
                      values: [...f.series.map((p, i) => (i === f.series.length - 1 ? p.spentUsd : null)), f.forecastUsd],
                    },
                  ]}
                />
              `,
            )}
        `}
  `;
}

function alertsSection(alerts) {
  return html`
    <h2>Budget alerts</h2>
    ${alerts.length === 0
      ? html`<p>No alert.</p>`
      : html`
          <table aria-label="Budget alerts">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Budget</th>
                <th scope="col">Level</th>
                <th scope="col">Spent</th>
                <th scope="col">Cap</th>
              </tr>
            </thead>
            <tbody>
              ${alerts.map(
                (a) => html`
                  <tr data-alert=${a.id}>
                    <td>${time(a.atMs)}</td>
                    <th scope="row">${a.budgetName}</th>
                    <td>${a.percent}%</td>
                    <td>${usd(a.spentUsd)}</td>
                    <td>${usd(a.capUsd)}</td>
                  </tr>
                `,
              )}
            </tbody>
          </table>
        `}
  `;
}

// How figures are written on the pages. Dollars keep the API's precision (micro-dollars), so they add up exactly.
import { h } from '/console/vendor/preact.mjs';
import htm from '/console/vendor/htm.mjs';

export const html = htm.bind(h);

export function usd(value) {
  return `$${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`;
}

export function cpus(cpuMillis) {
  return `${Number((cpuMillis / 1000).toFixed(3))}`;
}

export function memory(mib) {
  return mib >= 1024 ? `${Number((mib / 1024).toFixed(2))} GiB` : `${mib} MiB`;
}

export function time(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function percent(value) {
  return `${Number(value.toFixed(2))}%`;
}

export function scopeText(scope) {
  if (!scope) return '';
  const teams = `teams ${scope.teams.join(', ')}`;
  return scope.projects ? `${teams}; projects ${scope.projects.join(', ')}` : teams;
}

export function budgetScopeText(scope) {
  switch (scope.kind) {
    case 'global':
      return 'everything';
    case 'team':
      return `team ${scope.team}`;
    default:
      return scope.team ? `project ${scope.team}/${scope.project}` : `project ${scope.project}`;
  }
}

/** The status line under a view's heading: when it was read, or why the last read failed. */
export function Freshness({ poll }) {
  if (poll.error) return html`<p class="error" role="alert">Reading the API failed: ${poll.error.message}</p>`;
  if (!poll.updatedAt) return html`<p class="muted">Loading…</p>`;
  return html`<p class="muted">Updated ${poll.updatedAt.toLocaleTimeString('en-GB')}; refreshes every ${poll.intervalMs / 1000} s.</p>`;
}

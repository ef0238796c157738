// Waiting work: pending tasks grouped by the reason the controller stored on them, and by team; and a task's page.
import { usePoll } from './api.js';
import { Freshness, cpus, html, memory, time } from './format.js';

const PAGE = 1000;

export function WaitingView() {
  const poll = usePoll([`/v1/tasks?state=pending&limit=${PAGE}`]);
  const [answer] = poll.data ?? [];
  const tasks = answer?.tasks ?? [];
  return html`
    <h1>Waiting work</h1>
    <${Freshness} poll=${poll} />
    ${answer &&
    html`
      <p>
        <strong data-figure="pendingCount">${tasks.length}</strong> pending
        task${tasks.length === 1 ? '' : 's'}${answer.next ? ` (the first ${PAGE})` : ''}.
      </p>
      <h2>By reason</h2>
      ${groupTable('Pending tasks by reason', 'Reason', 'reason', tasks, (t) => t.reason || '(no reason yet)')}
      <h2>By team</h2>
      ${groupTable('Pending tasks by team', 'Team', 'team', tasks, (t) => t.owner.team)}
      <h2>Tasks</h2>
      <table aria-label="Pending tasks">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Team</th>
            <th scope="col">Project</th>
            <th scope="col">CPUs</th>
            <th scope="col">Memory</th>
            <th scope="col">Waiting since</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          ${tasks.slice(0, 100).map(
            (t) => html`
              <tr data-task=${t.id}>
                <th scope="row"><a href=${`#/tasks/${encodeURIComponent(t.id)}`}>${t.id}</a></th>
                <td>${t.owner.team}</td>
                <td>${t.owner.project}</td>
                <td>${cpus(t.resources.cpuMillis)}</td>
                <td>${memory(t.resources.memoryMiB)}</td>
                <td>${time(t.pendingSinceMs)}</td>
                <td>${t.reason}</td>
              </tr>
            `,
          )}
        </tbody>
      </table>
    `}
  `;
}

function groupTable(label, heading, kind, tasks, keyOf) {
  const counts = new Map();
  for (const t of tasks) counts.set(keyOf(t), (counts.get(keyOf(t)) ?? 0) + 1);
  const rows = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (rows.length === 0) return html`<p>Nothing waits.</p>`;
  return html`
    <table class="figures" aria-label=${label}>
      <thead>
        <tr>
          <th scope="col">${heading}</th>
          <th scope="col">Tasks</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          ([key, count]) => html`
            <tr data-group=${kind} data-key=${key}>
              <th scope="row">${key}</th>
              <td data-field="count">${count}</td>
            </tr>
          `,
        )}
      </tbody>
    </table>
  `;
}

export function TaskView({ id }) {
  const path = `/v1/tasks/${encodeURIComponent(id)}`;
  const poll = usePoll([path, `${path}/runs`]);
  const [task, runs] = poll.data ?? [];
  if (poll.error?.status === 404) {
    return html`<h1>Task ${id}</h1>
      <p role="alert">There is no such task you may see.</p>`;
  }
  return html`
    <h1>Task <span data-figure="taskId">${id}</span></h1>
    <${Freshness} poll=${poll} />
    ${task &&
    html`
      <dl class="facts">
        <dt>State</dt>
        <dd data-figure="state">${task.state}</dd>
        <dt>Owner</dt>
        <dd data-figure="owner">${task.owner.team} / ${task.owner.project} / ${task.owner.job}</dd>
        <dt>Asked for</dt>
        <dd>
          ${cpus(task.resources.cpuMillis)} CPUs, ${memory(task.resources.memoryMiB)}, ${task.resources.gpus} GPUs
        </dd>
        <dt>Reason</dt>
        <dd data-figure="reason">${task.reason || '—'}</dd>
        <dt>Attempts</dt>
        <dd data-figure="attempts">${task.attempts}</dd>
        <dt>Exit code</dt>
        <dd>${task.exitCode ?? '—'}</dd>
      </dl>
      <h2>History</h2>
      <ol class="history" aria-label="Task history">
        ${historyOf(task, runs?.runs ?? []).map(
          (e) => html`<li data-event=${e.kind}><time>${time(e.atMs)}</time> ${e.text}</li>`,
        )}
      </ol>
      <h2>Output (last lines)</h2>
      <pre class="output" tabindex="0">${task.outputTail || '(none)'}</pre>
    `}
  `;
}

/** The task's events in time order: submitted, each run on an agent (from the ledger), and how it ended. */
function historyOf(task, runs) {
  const events = [{ kind: 'submitted', atMs: task.createdAtMs, text: 'submitted' }];
  for (const run of runs) {
    events.push({ kind: 'started', atMs: run.startMs, text: `started on agent ${run.agentId}` });
    if (run.endMs !== null) events.push({ kind: 'stopped', atMs: run.endMs, text: `stopped on agent ${run.agentId}` });
  }
  if (task.finishedAtMs !== null) {
    events.push({ kind: 'finished', atMs: task.finishedAtMs, text: `${task.state}${task.reason ? `: ${task.reason}` : ''}` });
  } else if (task.state === 'pending') {
    events.push({ kind: 'waiting', atMs: task.pendingSinceMs, text: `waiting${task.reason ? `: ${task.reason}` : ''}` });
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

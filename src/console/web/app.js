// The console's single page: who is signed in, the navigation, and the view the location's hash names.
import { render } from '/console/vendor/preact.mjs';
import { useEffect, useState } from '/console/vendor/hooks.mjs';
import { api, setCsrfToken } from './api.js';
import { html, scopeText } from './format.js';
import { ChargebackView } from './view-chargeback.js';
import { DecisionsView } from './view-decisions.js';
import { PolicyView } from './view-policy.js';
import { PoolView } from './view-pool.js';
import { SpendView } from './view-spend.js';
import { TaskView, WaitingView } from './view-work.js';

const FINANCE = ['finance', 'admin'];

/** The views, in the navigation's order, with the roles that may open them. */
const VIEWS = [
  { hash: 'pool', title: 'Pool', view: PoolView },
  { hash: 'waiting', title: 'Waiting work', view: WaitingView },
  { hash: 'spend', title: 'Spend and budgets', view: SpendView },
  { hash: 'chargeback', title: 'Chargeback', view: ChargebackView, roles: FINANCE },
  { hash: 'decisions', title: 'Decisions', view: DecisionsView },
  { hash: 'policy', title: 'Policy', view: PolicyView },
];

function currentRoute() {
  const [name = 'pool', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { name, arg: rest.map(decodeURIComponent).join('/') };
}

function App({ session }) {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const views = VIEWS.filter((v) => !v.roles || v.roles.includes(session.role));
  const task = route.name === 'tasks' && route.arg !== '';
  const view = views.find((v) => v.hash === route.name) ?? (task ? undefined : views[0]);
  useEffect(() => {
    document.title = `${task ? 'Task' : view.title} · Spillway console`;
  }, [route.name, route.arg]);
  const signOut = async () => {
    await api('/console/signout', { method: 'POST' }).catch(() => undefined);
    location.assign('/console/signin');
  };
  return html`
    <header>
      <p class="brand">Spillway</p>
      <nav aria-label="Views">
        <ul>
          ${views.map(
            (v) =>
              html`<li>
                <a href=${`#/${v.hash}`} aria-current=${!task && v === view ? 'page' : undefined}>${v.title}</a>
              </li>`,
          )}
        </ul>
      </nav>
      <p class="who">
        <span data-session-role=${session.role}>${session.name} (${session.role}${session.scope ? `; ${scopeText(session.scope)}` : ''})</span>
        <button type="button" onClick=${signOut}>Sign out</button>
      </p>
    </header>
    <main id="view" data-view=${task ? 'task' : view.hash}>
      ${task ? html`<${TaskView} id=${route.arg} />` : html`<${view.view} session=${session} />`}
    </main>
  `;
}

async function start() {
  let session;
  try {
    session = await api('/console/session');
  } catch {
    location.assign('/console/signin');
    return;
  }
  setCsrfToken(session.csrfToken);
  render(html`<${App} session=${session} />`, document.getElementById('app'));
}

start();

// Reading and writing the API with the console session's cookie. Every state-changing call carries the session's
// CSRF token; the server also checks the Origin.
import { useEffect, useRef, useState } from '/console/vendor/hooks.mjs';

let csrfToken = '';

/** Remembers the CSRF token of the session (from GET /console/session). */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** An API error: the HTTP status, the API's error code and message, and the field it names. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `the server answered ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? '';
    this.field = body?.error?.field;
  }
}

/** Calls the API; resolves to the parsed JSON answer, rejects with ApiError. A 401 sends the user to sign in. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['x-csrf-token'] = csrfToken;
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status === 401 && !path.startsWith('/console/')) {
    location.assign('/console/signin');
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** How often the views read the API again. */
export const POLL_MS = 2_000;

/**
 * Reads `paths` (an array of API paths) now and every `intervalMs` (default POLL_MS) while the view is shown. Answers
 * `{ data: [answers] | undefined, error, updatedAt, intervalMs, reload }`; the previous data stays while a new read is
 * on its way.
 */
export function usePoll(paths, intervalMs = POLL_MS) {
  const key = paths.join('\n');
  // Each answer is kept with the paths it answers: on the render where the paths change, before the effect below reads
  // the new ones, the view must not show the old paths' answers under the new controls.
  const [state, setState] = useState({ key, data: undefined, error: undefined, updatedAt: undefined });
  const generation = useRef(0);
  const load = async (gen) => {
    try {
      const data = await Promise.all(paths.map((p) => api(p)));
      if (gen === generation.current) setState({ key, data, error: undefined, updatedAt: new Date() });
    } catch (error) {
      if (gen === generation.current) setState((s) => ({ ...s, key, error }));
    }
  };
  useEffect(() => {
    const gen = (generation.current += 1);
    setState({ key, data: undefined, error: undefined, updatedAt: undefined });
    let timer;
    let stopped = false;
    const tick = async () => {
      await load(gen);
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [key, intervalMs]);
  const current = state.key === key ? state : { data: undefined, error: undefined, updatedAt: undefined };
  return { data: current.data, error: current.error, updatedAt: current.updatedAt, intervalMs, reload: () => load(generation.current) };
}

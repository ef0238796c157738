// Policy: every field of the burst policy; an admin edits it (each field's error from the API shown beside it) and
// pauses or resumes launches after a confirmation.
import { useEffect, useState } from '/console/vendor/hooks.mjs';
import { api } from './api.js';
import { html } from './format.js';

export function PolicyView({ session }) {
  const admin = session.role === 'admin';
  const [policy, setPolicy] = useState(undefined);
  const [draft, setDraft] = useState({});
  const [errors, setErrors] = useState({});
  const [message, setMessage] = useState('');
  const [confirming, setConfirming] = useState(false);
  const load = async () => {
    const p = await api('/v1/policy');
    setPolicy(p);
    setDraft(flatten(p));
  };
  useEffect(() => {
    load().catch((err) => setMessage(`Reading the policy failed: ${err.message}`));
  }, []);
  if (!policy) return html`<h1>Policy</h1><p>${message || 'Loading…'}</p>`;

  const save = async (e) => {
    e.preventDefault();
    setErrors({});
    setMessage('');
    try {
      const { paused: _paused, ...body } = unflatten(draft, policy);
      const saved = await api('/v1/policy', { method: 'PUT', body });
      setPolicy(saved);
      setDraft(flatten(saved));
      setMessage('Saved.');
    } catch (err) {
      if (err.field) setErrors({ [err.field]: err.message });
      setMessage(`Not saved: ${err.message}`);
    }
  };
  const flip = async () => {
    setConfirming(false);
    try {
      const answer = await api(policy.paused ? '/v1/resume' : '/v1/pause', { method: 'POST', body: {} });
      setPolicy({ ...policy, paused: answer.paused });
      setMessage(answer.paused ? 'Launches paused.' : 'Launches resumed.');
    } catch (err) {
      setMessage(`Refused: ${err.message}`);
    }
  };
  const fields = Object.keys(draft).filter((k) => k !== 'paused');
  return html`
    <h1>Policy</h1>
    <section aria-labelledby="switch">
      <h2 id="switch">Kill switch</h2>
      <p>Launches are <strong data-figure="paused">${policy.paused ? 'paused' : 'allowed'}</strong>.</p>
      ${admin &&
      (confirming
        ? html`<div class="confirm" role="alertdialog" aria-labelledby="confirm-text">
            <p id="confirm-text">
              ${policy.paused ? 'Resume launches? Spillway may launch cloud machines again.' : 'Pause every launch? Running work continues; nothing new is launched.'}
            </p>
            <button type="button" data-action="confirm" onClick=${flip}>${policy.paused ? 'Yes, resume' : 'Yes, pause'}</button>
            <button type="button" onClick=${() => setConfirming(false)}>Cancel</button>
          </div>`
        : html`<button type="button" data-action=${policy.paused ? 'resume' : 'pause'} onClick=${() => setConfirming(true)}>
            ${policy.paused ? 'Resume launches' : 'Pause launches'}
          </button>`)}
    </section>
    <section aria-labelledby="fields">
      <h2 id="fields">Fields</h2>
      ${message && html`<p class=${message.startsWith('Saved') || message.startsWith('Launches') ? 'ok' : 'error'} role="status">${message}</p>`}
      <form onSubmit=${save} novalidate>
        ${fields.map((key) => {
          const id = `policy-${key}`;
          const error = errors[key];
          return html`
            <div class="field" data-field=${key}>
              <label for=${id}>${key}</label>
              <input
                id=${id}
                name=${key}
                value=${draft[key]}
                readonly=${!admin}
                aria-invalid=${error ? 'true' : undefined}
                aria-describedby=${error ? `${id}-error` : undefined}
                onInput=${(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
              />
              ${error && html`<span class="field-error" id=${`${id}-error`}>${error}</span>`}
            </div>
          `;
        })}
        ${admin && html`<button type="submit" data-action="save">Save policy</button>`}
      </form>
    </section>
  `;
}

/** The policy as dotted keys and their text: lists comma-separated, the rest as written. */
function flatten(value, prefix = '', out = {}) {
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, path, out);
    else out[path] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/**
 * The edited text back into a policy shaped like `original`: numbers, booleans and lists where it had them. Text that
 * is not a number is sent as it is, so the API names the field.
 */
function unflatten(draft, original) {
  const result = structuredClone(original);
  for (const [path, text] of Object.entries(draft)) {
    const keys = path.split('.');
    let target = result;
    let source = original;
    for (const k of keys.slice(0, -1)) {
      target = target[k];
      source = source[k];
    }
    const last = keys.at(-1);
    const was = source[last];
    const trimmed = text.trim();
    if (Array.isArray(was)) target[last] = trimmed === '' ? [] : trimmed.split(',').map((s) => s.trim());
    else if (typeof was === 'number') target[last] = trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
    else if (typeof was === 'boolean') target[last] = trimmed === 'true' ? true : trimmed === 'false' ? false : trimmed;
    else target[last] = text;
  }
  return result;
}

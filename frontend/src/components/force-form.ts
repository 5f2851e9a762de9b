/**
 * The force form of a builder: a reason and `key=value` property lines. Submitting posts
 * `/builders/NAME/force`, shows "requested #ID", waits for the request's build and opens it.
 */
import { h } from '../dom.ts';
import type { PageContext } from '../context.ts';
import { waitForBuild } from '../wait-for-build.ts';
import { isAbort } from '../api.ts';
import type { RequestSubmitted } from '../../../protocol/api-types.ts';
import { may, notAllowed } from '../session.ts';

export type PropertyValue = string | number | boolean;

/** `key=value` lines → properties; numbers and true/false become JSON numbers and booleans. */
export function parseProperties(text: string): { properties: Record<string, PropertyValue>; errors: string[] } {
  const properties: Record<string, PropertyValue> = {};
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq === -1 ? '' : line.slice(0, eq).trim();
    if (eq === -1 || key === '') {
      errors.push(`line ${i + 1}: expected key=value, got "${line}"`);
      return;
    }
    properties[key] = typed(line.slice(eq + 1).trim());
  });
  return { properties, errors };
}

function typed(value: string): PropertyValue {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) && Number.isFinite(Number(value))) return Number(value);
  return value;
}

export function forceForm(ctx: PageContext, builderName: string): HTMLFormElement {
  const reason = h('input', { name: 'reason', type: 'text', placeholder: 'why (optional)', maxlength: 1000, autocomplete: 'off' });
  const properties = h('textarea', { name: 'properties', rows: 3, placeholder: 'key=value, one per line', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Force build');
  submit.disabled = !may(builderName, 'force');
  if (submit.disabled) submit.title = notAllowed('force');
  const status = h('span', { class: 'force-status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'force-form', class: 'force-form' },
    h('label', null, h('span', null, 'Reason'), reason),
    h('label', null, h('span', null, 'Properties'), properties),
    h('div', { class: 'form-actions' }, submit, status),
  );

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const parsed = parseProperties(properties.value);
    if (parsed.errors.length > 0) {
      ctx.message.show(`Properties: ${parsed.errors.join('; ')}`, 'error');
      return;
    }
    const body: { reason?: string; properties: Record<string, PropertyValue> } = { properties: parsed.properties };
    if (reason.value.trim() !== '') body.reason = reason.value.trim();
    submit.disabled = true;
    status.textContent = 'requesting…';
    void (async () => {
      try {
        const res = await ctx.api.post<RequestSubmitted>(`/builders/${encodeURIComponent(builderName)}/force`, body, ctx.scope.signal);
        const text = `requested #${res.buildrequestid}`;
        status.textContent = `${text}, waiting for it to start…`;
        ctx.message.show(text, 'info');
        const buildid = await waitForBuild(ctx.api, res.buildrequestid, ctx.scope.signal);
        if (buildid === null) status.textContent = `${text}; no build has started yet (no free agent?)`;
        else ctx.navigate(`#/builds/${buildid}`);
      } catch (err) {
        if (isAbort(err)) return;
        status.textContent = '';
        ctx.message.error(err, 'Force failed');
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}

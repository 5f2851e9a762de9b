/** The login page: username and password, and "Log in with <provider>" when OpenID Connect is set up. */
import type { PageContext } from '../context.ts';
import { h } from '../dom.ts';
import { logIn, loginMethods } from '../session.ts';

export function loginPage(ctx: PageContext): HTMLElement {
  const methods = loginMethods();
  const page = h('section', { class: 'page login-page' }, h('h1', null, 'Log in'));
  if (!methods || (!methods.password && !methods.oidc)) {
    page.appendChild(h('p', null, 'This master has no user logins. ', h('a', { href: '#/' }, 'Overview')));
    return page;
  }
  if (methods.password) {
    const username = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', required: true });
    const password = h('input', {
      id: 'login-password',
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
    const status = h('p', { class: 'login-status error', role: 'alert', 'aria-live': 'assertive' });
    const form = h(
      'form',
      { id: 'login-form', class: 'card login-form' },
      h('label', { for: 'login-username' }, 'Username'),
      username,
      h('label', { for: 'login-password' }, 'Password'),
      password,
      h('div', { class: 'form-actions' }, submit),
      status,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit.disabled = true;
      status.textContent = '';
      logIn(username.value, password.value)
        .then((problem) => {
          if (ctx.scope.disposed) return;
          if (problem === null) return ctx.navigate('#/');
          status.textContent = problem;
          password.value = '';
          password.focus();
        })
        .catch((e: unknown) => (status.textContent = `Login failed: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (submit.disabled = false));
    });
    page.appendChild(form);
  }
  if (methods.oidc)
    page.appendChild(
      h('p', null, h('a', { href: '/auth/oidc/login', id: 'oidc-login', class: 'button' }, `Log in with ${methods.oidc.name}`)),
    );
  return page;
}

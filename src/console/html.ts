/** The console's server-made pages. None has inline script or style (the Content-Security-Policy forbids them). */

/** The single page the views render into; app.js reads the API and draws them. */
export function shellPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Spillway console</title>
<link rel="stylesheet" href="/console/vendor/uplot.css">
<link rel="stylesheet" href="/console/static/app.css">
<script type="module" src="/console/static/app.js"></script>
</head>
<body>
<div id="app"><main><p>Loading the console…</p></main></div>
</body>
</html>
`;
}

/** The sign-in page: a form for a pasted token, and `message` (already plain text) when sign-in failed. */
export function signInPage(message?: string): string {
  const error = message === undefined ? '' : `<p class="error" role="alert">${escapeHtml(message)}</p>\n`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Spillway console</title>
<link rel="stylesheet" href="/console/static/app.css">
</head>
<body>
<main class="signin">
<h1>Spillway console</h1>
${error}<p>Run <code>npx spillway console</code> and open the link it prints, or paste an API token.</p>
<form method="post" action="/console/signin">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}

/**
 * The page a sign-in link opened from another site gets: the code goes back only when the user chooses to continue,
 * by a same-origin form post.
 */
export function confirmSignInPage(code: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Spillway console</title>
<link rel="stylesheet" href="/console/static/app.css">
</head>
<body>
<main class="signin">
<h1>Spillway console</h1>
<p>This sign-in link was opened from another site. Continue only if you ran <code>spillway console</code> yourself
just now: a link someone else made would sign you in as them.</p>
<form method="post" action="/console/signin">
<input type="hidden" name="code" value="${escapeHtml(code)}">
<button type="submit">Continue signing in</button>
</form>
</main>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

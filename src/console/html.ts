/** The console's two server-made pages. Neither has inline script or style (the Content-Security-Policy forbids them). */

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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

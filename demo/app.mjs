// The demo upstream: shows who Verdict says is calling.
import { createServer } from 'node:http';

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Demo app</title><h1>Hello ${esc(req.headers['x-verdict-user'] ?? 'nobody')}</h1>
<p>email: ${esc(req.headers['x-verdict-email'])}<br>groups: ${esc(req.headers['x-verdict-groups'])}<br>decision: ${esc(req.headers['x-verdict-decision-id'])}</p>
<p><a href="/.verdict/logout">Log out</a></p>`);
}).listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '0.0.0.0', function () {
  console.log(`demo app listening on port ${this.address().port}`);
});

#!/usr/bin/env node
// net/js/examples/serve.mjs: serves a ported Worker with Node's http module.
//
//   node serve.mjs ./code-execution.mjs [PORT] [HOST]
//
// Each request becomes a web Request, goes to the module's default
// export's fetch(request, env), and its Response is written back. This is
// what `wrangler dev` did for the hosted SDK; by default it listens on
// 127.0.0.1 only.
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Readable } from 'node:stream';
import { makeEnv } from './env.mjs';

const [file, port = '8787', host = '127.0.0.1'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node serve.mjs WORKER.mjs [PORT] [HOST]');
  process.exit(2);
}
const worker = (await import(pathToFileURL(path.resolve(file)).href)).default;
const env = makeEnv();

const server = http.createServer(async (req, res) => {
  try {
    const url = `http://${req.headers.host || host}${req.url}`;
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(url, {
      method: req.method, headers: req.headers,
      body: hasBody ? Readable.toWeb(req) : undefined, duplex: hasBody ? 'half' : undefined,
    });
    const response = await worker.fetch(request, env);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) for await (const chunk of response.body) res.write(chunk);
    res.end();
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(e && e.stack || e));
  }
});
server.listen(Number(port), host, () => {
  console.log(`serving ${file} on http://${host}:${server.address().port}/`);
});

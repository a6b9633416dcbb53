// net/js/examples/dev-environment.mjs: "Build Interactive Development
// Environments" from the hosted SDK guide, ported to sbx.
//
// Routes (query ?userId=...): /init writes a small Express app, /install
// runs npm install (needs the sandbox to reach a registry), /preview starts
// the server and exposes its port, /read and /write edit files. Changes from
// the guide, each marked "sbx:": commands take cwd instead of `cd DIR &&`
// (the same thing, and it also works in host-mode test sandboxes); the port
// comes from env.PREVIEW_PORT (default 3000, the guide's); readFile
// resolves to { content, ... } (as in the hosted SDK), so /read sends
// .content; /preview also waits for the port before exposing it (up to
// env.PREVIEW_WAIT_MS, default 15 s).
import { getSandbox } from '../src/index.js';

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const userId = url.searchParams.get('userId');
    if (!userId) {
      return new Response('Missing userId', { status: 400 });
    }
    const sandbox = getSandbox(env.Sandbox, `dev-env-${userId}`);
    const port = Number(env.PREVIEW_PORT || 3000); // sbx: configurable

    // Route: Initialize project
    if (url.pathname === '/init') {
      await sandbox.mkdir('/workspace/project', { recursive: true });
      // Create package.json
      await sandbox.writeFile(
        '/workspace/project/package.json',
        JSON.stringify({ name: 'my-app', version: '1.0.0' }),
      );
      // Create index.js
      await sandbox.writeFile(
        '/workspace/project/index.js',
        `const express = require('express');
const app = express();
app.get('/', (req, res) => {
  res.send('Hello from Sandbox!');
});
app.listen(${port}, () => {
  console.log('Server running on port ${port}');
});`,
      );
      return Response.json({ status: 'initialized' });
    }

    // Route: Install dependencies
    if (url.pathname === '/install') {
      const result = await sandbox.exec('npm install express', {
        cwd: '/workspace/project', // sbx: instead of `cd /workspace/project &&`
        stream: true,
        onStdout: (line) => console.log(`[${userId}] ${line}`),
      });
      return Response.json({
        success: result.exitCode === 0,
        output: result.stdout,
        error: result.stderr,
      });
    }

    // Route: Start server with preview URL
    if (url.pathname === '/preview') {
      // Start Express server in background
      const proc = await sandbox.startProcess('node index.js', {
        cwd: '/workspace/project',
      });
      // sbx: wait until it listens, so the URL works at once
      await proc.waitForPort(port, { timeout: Number(env.PREVIEW_WAIT_MS || 15000) });
      // Expose the port with an auto-generated URL
      const previewUrl = await sandbox.exposePort(port);
      return Response.json({
        previewUrl,
        message: 'Server started, access via preview URL',
      });
    }

    // Route: Read file
    if (url.pathname === '/read') {
      const filePath = url.searchParams.get('path');
      const file = await sandbox.readFile(`/workspace/project/${filePath}`);
      return new Response(file.content, { // sbx: .content
        headers: { 'Content-Type': 'text/plain' },
      });
    }

    // Route: Write file
    if (url.pathname === '/write' && request.method === 'POST') {
      const { path, content } = await request.json();
      await sandbox.writeFile(`/workspace/project/${path}`, content);
      return Response.json({ status: 'written' });
    }

    return new Response('Not Found', { status: 404 });
  },
};

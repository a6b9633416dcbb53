// net/js/examples/code-execution.mjs: "Getting Started: Your First Sandbox"
// from the hosted SDK guide, ported to sbx. The handler is the guide's,
// line for line; only the import changed, and env.Sandbox is an SbxClient
// (see env.mjs). Serve it with: node serve.mjs code-execution.mjs
//
//   curl -X POST localhost:8787 -H 'Content-Type: application/json' \
//        -d '{"userId": "alice", "code": "print(sum([1, 2, 3, 4, 5]))"}'
//   → {"success":true,"output":"15\n","error":null}
import { getSandbox } from '../src/index.js';

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') {
      return new Response('Method Not Allowed', { status: 405 });
    }
    const { code, userId } = await request.json();
    // Get user-specific sandbox
    const sandbox = getSandbox(env.Sandbox, `user-${userId}`);
    try {
      // Create Python execution context
      const ctx = await sandbox.createCodeContext({ language: 'python' });
      // Execute code with streaming output
      let output = '';
      const result = await sandbox.runCode(code, {
        context: ctx.id,
        stream: true,
        onOutput: (chunk) => {
          output += chunk;
          console.log(`[${userId}] ${chunk}`);
        },
      });
      // Cleanup context
      await sandbox.deleteCodeContext(ctx.id);
      return Response.json({
        success: result.success,
        output: result.output || output,
        error: result.error,
      });
    } catch (error) {
      return Response.json(
        { success: false, error: String(error) },
        { status: 500 },
      );
    }
  },
};

// net/js/examples/llm-feedback.mjs: "Execute AI-Generated Code with Feedback
// Loops" from the hosted SDK guide, ported to sbx. POST {prompt, userId}:
// asks a model for Python code, runs it, feeds errors back, up to 3 times.
//
// Changes from the guide, each marked "sbx:": the model's URL comes from
// env.LLM_URL (default: the guide's OpenRouter URL), so tests can answer
// with a local stub; result.error is an object { name, message, traceback }
// whose String() is "Name: message", so the guide's template strings read
// as intended.
import { getSandbox } from '../src/index.js';

export default {
  async fetch(request, env) {
    const { prompt, userId } = await request.json();
    const sandbox = getSandbox(env.Sandbox, `ai-${userId}`);
    const maxIterations = 3;
    const history = [];
    try {
      const ctx = await sandbox.createCodeContext({ language: 'python' });
      for (let i = 0; i < maxIterations; i++) {
        // Build prompt with execution history
        const fullPrompt = buildPrompt(prompt, history);
        // Generate code from LLM
        const code = await generateCode(fullPrompt, env.OPENROUTER_API_KEY, env.LLM_URL);
        console.log(`Iteration ${i + 1}: Executing generated code`);
        // Execute in sandbox
        const result = await sandbox.runCode(code, { context: ctx.id });
        if (result.success) {
          await sandbox.deleteCodeContext(ctx.id);
          return Response.json({ success: true, code, output: result.output, iterations: i + 1 });
        }
        // Record failure for next iteration
        history.push(`Attempt ${i + 1} failed: ${result.error}`);
        console.log(`Feeding error back to LLM: ${result.error}`);
      }
      // Exhausted attempts
      await sandbox.deleteCodeContext(ctx.id);
      return Response.json({ success: false, error: 'Failed after 3 iterations', history });
    } catch (error) {
      return Response.json({ success: false, error: String(error) }, { status: 500 });
    }
  },
};

function buildPrompt(userPrompt, history) {
  let prompt = `Generate Python code for: ${userPrompt}\n\n`;
  if (history.length > 0) {
    prompt += 'Previous attempts failed:\n';
    history.forEach((entry, idx) => {
      prompt += `${idx + 1}. ${entry}\n`;
    });
    prompt += '\nGenerate CORRECTED code addressing these errors.\n';
  }
  return prompt;
}

async function generateCode(prompt, apiKey, llmUrl) {
  const response = await fetch(llmUrl || 'https://openrouter.ai/api/v1/chat/completions', { // sbx: LLM_URL
    method: 'POST',
    headers: {
      'Authorization': `Bearer ${apiKey}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      model: 'anthropic/claude-3.5-sonnet',
      messages: [
        { role: 'user', content: `${prompt}\n\nGenerate ONLY executable Python code, no explanations.` },
      ],
    }),
  });
  const data = await response.json();
  return data.choices[0].message.content;
}

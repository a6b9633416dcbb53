// net/js/examples/ci-run.mjs: "Deploy CI/CD Pipelines" from the hosted SDK
// guide, ported to sbx. POST {repository, ref}: clones the repository in a
// fresh sandbox, runs npm install and npm test, reports, destroys it.
//
// Changes from the guide, each marked "sbx:": repository may be a full git
// URL (file://, https://) or GitHub's "owner/repo"; the commands run in the
// checkout's folder (/workspace/<name>, which gitCheckout answers as
// targetDir; the guide's cwd '/workspace' is the folder above it); ref is
// passed as the branch to clone (a branch or tag name).
import { getSandbox } from '../src/index.js';

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') {
      return new Response('Method Not Allowed', { status: 405 });
    }
    const { repository, ref } = await request.json();
    // Create unique sandbox per test run
    const runId = crypto.randomUUID();
    const sandbox = getSandbox(env.Sandbox, `ci-${runId}`);
    const startTime = Date.now();
    try {
      // Clone repository
      console.log(`Cloning ${repository} at ${ref}`);
      const repoUrl = /^[a-z]+:\/\//.test(repository) ? repository : `https://github.com/${repository}.git`; // sbx
      const checkout = await sandbox.gitCheckout(repoUrl, { ref });
      if (!checkout.success) {
        return Response.json({ success: false, error: 'Clone failed', output: checkout.stderr });
      }
      const cwd = checkout.targetDir.startsWith('/') ? checkout.targetDir : `/workspace/${checkout.targetDir}`; // sbx

      // Install dependencies
      console.log('Installing dependencies');
      const installResult = await sandbox.exec('npm install', {
        cwd,
        stream: true,
        onStdout: (line) => console.log(`[install] ${line}`),
      });
      if (installResult.exitCode !== 0) {
        return Response.json({
          success: false,
          error: 'Dependency installation failed',
          output: installResult.stderr,
        });
      }

      // Run tests
      console.log('Running tests');
      const testResult = await sandbox.exec('npm test', {
        cwd,
        stream: true,
        onStdout: (line) => console.log(`[test] ${line}`),
      });
      const duration = Date.now() - startTime;
      const result = {
        commit: ref,
        success: testResult.exitCode === 0,
        output: testResult.stdout,
        duration,
      };
      // Optionally report back to GitHub
      if (env.GITHUB_TOKEN) {
        await reportToGitHub(repository, ref, result, env.GITHUB_TOKEN);
      }
      return Response.json(result);
    } catch (error) {
      return Response.json(
        { success: false, error: String(error), duration: Date.now() - startTime },
        { status: 500 },
      );
    } finally {
      // Cleanup sandbox
      await sandbox.destroy();
    }
  },
};

async function reportToGitHub(repository, ref, result, token) {
  const [owner, repo] = repository.split('/');
  await fetch(`https://api.github.com/repos/${owner}/${repo}/statuses/${ref}`, {
    method: 'POST',
    headers: {
      'Authorization': `token ${token}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({
      state: result.success ? 'success' : 'failure',
      description: result.success ? `Tests passed in ${result.duration}ms` : 'Tests failed',
      context: 'sbx-ci',
    }),
  });
}

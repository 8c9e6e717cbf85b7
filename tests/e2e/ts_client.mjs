// Calls one tool on the stata-tools server over stdio with the official TypeScript SDK client,
// a short request timeout and resetTimeoutOnProgress, and prints what arrived as one JSON line.
// usage: node ts_client.mjs TOOL 'JSON_ARGS' TIMEOUT_MS -- SERVER_COMMAND [ARGS...]
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [tool, rawArgs, timeoutMs, sep, command, ...args] = process.argv.slice(2);
if (sep !== "--") throw new Error("usage: ts_client.mjs TOOL JSON TIMEOUT_MS -- CMD [ARGS...]");
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
const client = new Client({ name: "ts-e2e", version: "0.0.0" });
await client.connect(transport);
const progress = [];
const started = Date.now();
let outcome;
try {
  const result = await client.callTool({ name: tool, arguments: JSON.parse(rawArgs) }, undefined, {
    timeout: Number(timeoutMs),
    resetTimeoutOnProgress: true,
    onprogress: (p) => progress.push({ progress: p.progress, total: p.total, message: p.message,
                                        t: (Date.now() - started) / 1000 }),
  });
  outcome = { ok: true, isError: result.isError ?? false,
              text: result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n") };
} catch (error) {
  outcome = { ok: false, error: String(error) };
}
await client.close();
console.log(JSON.stringify({ wall_s: (Date.now() - started) / 1000, ...outcome, progress }));

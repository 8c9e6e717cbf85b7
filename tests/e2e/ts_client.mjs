// Calls one tool on the stata-tools server with the official TypeScript SDK client, a short
// request timeout and resetTimeoutOnProgress, and prints what arrived as one JSON line.
// usage: node ts_client.mjs TOOL 'JSON_ARGS' TIMEOUT_MS -- SERVER_COMMAND [ARGS...]   (stdio)
//        node ts_client.mjs TOOL 'JSON_ARGS' TIMEOUT_MS --url URL   (HTTP; $MCP_BEARER_TOKEN)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [tool, rawArgs, timeoutMs, sep, command, ...args] = process.argv.slice(2);
let transport;
if (sep === "--") {
  transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
} else if (sep === "--url") {
  const token = process.env.MCP_BEARER_TOKEN;
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(command), { requestInit: { headers } });
} else {
  throw new Error("usage: ts_client.mjs TOOL JSON TIMEOUT_MS (-- CMD [ARGS...] | --url URL)");
}
const client = new Client({ name: "ts-e2e", version: "0.0.0" });
try {
  await client.connect(transport);
} catch (error) {
  console.log(JSON.stringify({ ok: false, connected: false, error: String(error),
                                status: error.code ?? null }));
  process.exit(0);
}
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
const server = client.getServerVersion();
await client.close();
console.log(JSON.stringify({ wall_s: (Date.now() - started) / 1000, ...outcome, progress, server }));

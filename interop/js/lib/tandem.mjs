// Starting a real `tandem serve` for the JS SDK tests, and the small helpers they share.
//
// The binary is built from this checkout (go build ./cmd/tandem) into a temporary directory,
// unless TANDEM_BIN names one. Each server runs with --dev on 127.0.0.1 with ports picked by
// the kernel and reports them on its ready line:
//   tandem ready region=… kafka=HOST:PORT http=HOST:PORT amqp=HOST:PORT

import { execFile, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { connect, createServer } from "node:net";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..") // interop/js/lib → the repository;

/** Builds tandem (or takes $TANDEM_BIN); returns its path. */
export async function tandemBinary() {
  if (process.env.TANDEM_BIN) return process.env.TANDEM_BIN;
  const dir = mkdtempSync(join(tmpdir(), "tandem-js-bin-"));
  const bin = join(dir, "tandem");
  try {
    await run("go", ["build", "-o", bin, "./cmd/tandem"], { cwd: repoRoot, maxBuffer: 1 << 24, timeout: 600_000 });
  } catch (err) {
    throw new Error(`building tandem with 'go build -o ${bin} ./cmd/tandem' in ${repoRoot} failed: ${err.stderr || err.message}`);
  }
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return bin;
}

/** Whether `tandem serve` has the flag (the AMQP listener is --amqp-addr). */
export async function serveHasFlag(bin, flag) {
  const { stdout, stderr } = await run(bin, ["serve", "--help"], { maxBuffer: 1 << 24 });
  return (stdout + stderr).includes(flag);
}

/**
 * Starts `tandem serve --dev` and resolves once its ready line is out.
 * Returns { http, amqp, kafka, dataDir, logFile, stop() }.
 */
export async function startTandem(bin, extraArgs = []) {
  // One temporary directory per server, removed when it stops (TANDEM_JS_KEEP=1 keeps it):
  // data/ and serve.log.
  const root = mkdtempSync(join(tmpdir(), "tandem-js-"));
  const dataDir = join(root, "data");
  const logFile = join(root, "serve.log");
  const log = openSync(logFile, "w");
  const args = ["serve", "--dev", "--data", dataDir, "--region", "jstest",
    "--http-addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--amqp-addr", "127.0.0.1:0", ...extraArgs];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", log] });
  const exited = new Promise((res) => child.on("exit", (code, signal) => res({ code, signal })));
  const ready = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`tandem serve printed no ready line in 60 s; its log: ${logFile}`)), 60_000);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      if (line.startsWith("tandem ready ")) {
        clearTimeout(timer);
        res(line);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`tandem serve ${args.join(" ")} exited (${code ?? signal}) before it was ready:\n${tail(logFile)}`));
    });
  });
  const field = (name) => {
    const m = ready.match(new RegExp(`\\s${name}=(\\S+)`));
    if (!m) throw new Error(`the ready line has no ${name}=HOST:PORT: ${ready}`);
    return m[1];
  };
  const node = { ready, http: `http://${field("http")}`, amqp: field("amqp"), kafka: field("kafka"), dataDir, logFile };
  if (node.amqp === "off") {
    child.kill("SIGKILL");
    throw new Error(`tandem serve ${args.join(" ")} reports no AMQP listener: ${ready}`);
  }
  node.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(killer);
    if (process.env.TANDEM_JS_KEEP !== "1") rmSync(root, { recursive: true, force: true });
  };
  return node;
}

function tail(file) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}

/** An HTTP API call with the node's admin key (<data>/admin-key); throws with the answer on a non-2xx status. */
export async function api(node, method, path, body) {
  const headers = { authorization: `TandemKey ${readFileSync(join(node.dataDir, "admin-key"), "utf8").trim()}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(node.http + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Creates event hub `name` in the dev namespace "default". */
export async function createHub(node, name, partitionCount) {
  await api(node, "PUT", `/namespaces/default/eventhubs/${name}`, { properties: { partitionCount } });
}

/** The key of the namespace's RootManageSharedAccessKey rule. */
export async function rootKey(node, ns = "default") {
  const k = await api(node, "POST", `/namespaces/${ns}/authorizationRules/RootManageSharedAccessKey/listKeys`);
  return { keyName: k.keyName, key: k.primaryKey };
}

/** The emulator-style connection string the SDKs dial over plain AMQP. */
export function amqpConnectionString(node, { keyName, key }, { emulatorFlag = "true", entityPath } = {}) {
  let cs = `Endpoint=sb://${node.amqp}/;SharedAccessKeyName=${keyName};SharedAccessKey=${key}`;
  if (entityPath) cs += `;EntityPath=${entityPath}`;
  return cs + `;UseDevelopmentEmulator=${emulatorFlag}`;
}

/** A SAS token as the SDKs sign it (core-amqp createToken): HMAC-SHA256 of the escaped resource. */
export function sasToken(resource, keyName, key, expirySeconds) {
  const sr = encodeURIComponent(resource);
  const sig = createHmac("sha256", key).update(`${sr}\n${expirySeconds}`).digest("base64");
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expirySeconds}&skn=${encodeURIComponent(keyName)}`;
}

/** Runs the tandem CLI; resolves with { code, stdout, stderr }. */
export async function cli(bin, args) {
  try {
    const { stdout, stderr } = await run(bin, args, { maxBuffer: 1 << 24, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? String(err) };
  }
}

/**
 * Subscribes with `consumer` and resolves with the first `count` events received (each with
 * its partitionId), or rejects after `timeoutMs` naming how many arrived.
 * `partitionId` undefined subscribes to every partition.
 */
export function collect(consumer, { count, partitionId, options = {}, timeoutMs = 60_000, onContext }) {
  return new Promise((res, rej) => {
    const got = [];
    let sub;
    let done = false;
    const finish = async (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      await sub?.close();
      if (err) rej(err);
      else res(got.slice(0, count));
    };
    const timer = setTimeout(() => finish(new Error(
      `received ${got.length} of ${count} events in ${timeoutMs} ms: ${JSON.stringify(got.map((e) => [e.partitionId, e.sequenceNumber, e.body]))}`)), timeoutMs);
    const handlers = {
      processEvents: async (events, context) => {
        for (const e of events) got.push({ ...e, partitionId: context.partitionId });
        onContext?.(context, events);
        if (got.length >= count) await finish();
      },
      processError: async (err, context) => {
        // Retriable errors are retried by the SDK; a non-retriable one ends the test.
        if (err?.retryable === false || err?.name === "ArgumentError" || err?.name === "TypeError") {
          await finish(new Error(`subscription error on partition ${context.partitionId}: ${err.name}: ${err.message}`));
        }
      },
    };
    const opts = { maxBatchSize: 100, maxWaitTimeInSeconds: 1, ...options };
    sub = partitionId === undefined ? consumer.subscribe(handlers, opts) : consumer.subscribe(partitionId, handlers, opts);
  });
}

/**
 * A TCP relay to `target` (host:port) that records the 8-byte protocol header each client
 * connection opens with: "AMQP" 3 1 0 0 is SASL, "AMQP" 0 1 0 0 plain AMQP without SASL.
 * Resolves with { addr, headers, close() }.
 */
export async function headerSpy(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const headers = [];
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    let first = Buffer.alloc(0);
    client.on("data", (chunk) => {
      if (first.length < 8) {
        first = Buffer.concat([first, chunk]);
        if (first.length >= 8) headers.push(first.subarray(0, 8));
      }
    });
    client.pipe(upstream).pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise((res) => server.listen(0, "127.0.0.1", res));
  return {
    addr: `127.0.0.1:${server.address().port}`,
    headers,
    close: () => new Promise((res) => {
      for (const s of sockets) s.destroy();
      server.close(res);
    }),
  };
}

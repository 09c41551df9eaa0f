// The Azure Event Hubs JavaScript SDK (@azure/event-hubs 6.0.4) against a real `tandem serve`
// over plain AMQP: the test plan's Layer 2 (docs: design "amqp-and-console" §A.4).
//
// Every client uses the emulator-style connection string
//   Endpoint=sb://127.0.0.1:PORT/;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true
// with the dev namespace's real key. The suite skips, saying why, only when the tandem binary
// has no AMQP listener (serve without --amqp-addr).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  EventHubBufferedProducerClient,
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
} from "@azure/event-hubs";
// The SDK's own partition-key hash (lookup3), which its buffered producer uses to pick a
// partition on the client side; not exported, so imported by path.
import { mapPartitionKeyToId } from "../node_modules/@azure/event-hubs/dist/esm/impl/partitionKeyToIdMapper.js";
// The SDK's own in-memory CheckpointStore (also not exported): the load balancer's ownership
// claims and checkpoints, without Azure Storage.
import { InMemoryCheckpointStore } from "../node_modules/@azure/event-hubs/dist/esm/inMemoryCheckpointStore.js";

import {
  amqpConnectionString,
  cli,
  collect,
  createHub,
  headerSpy,
  rootKey,
  sasToken,
  serveHasFlag,
  startTandem,
  tandemBinary,
} from "../lib/tandem.mjs";

const DEFAULT_GROUP = "$Default";
// Bounded retries, so a server that does not answer fails a test in seconds, not minutes.
const opts = { retryOptions: { maxRetries: 1, timeoutInMs: 20_000 } };
const T = { timeout: 90_000 };
const bin = await tandemBinary();
const hasAMQP = await serveHasFlag(bin, "--amqp-addr");
const skip = hasAMQP ? false : "this tandem has no AMQP listener (tandem serve --help lists no --amqp-addr); the JS SDK tests need it";
if (skip) console.log(`# SKIP the @azure/event-hubs suite: ${skip}`);

describe("@azure/event-hubs 6.0.4 against tandem serve", { skip, timeout: 300_000 }, () => {
  let node;
  let key;
  let cs; // the namespace's emulator-style connection string

  before(async () => {
    node = await startTandem(bin);
    key = await rootKey(node);
    cs = amqpConnectionString(node, key);
  });
  after(async () => {
    await node?.stop();
  });

  test("getEventHubProperties and getPartitionProperties, empty and not", T, async () => {
    await createHub(node, "props", 3);
    const producer = new EventHubProducerClient(cs, "props", opts);
    try {
      const props = await producer.getEventHubProperties();
      assert.equal(props.name, "props");
      assert.deepEqual(props.partitionIds, ["0", "1", "2"]);
      assert.ok(props.createdOn instanceof Date && !Number.isNaN(props.createdOn.getTime()), `createdOn ${props.createdOn}`);

      const empty = await producer.getPartitionProperties("1");
      assert.equal(empty.eventHubName, "props");
      assert.equal(empty.partitionId, "1");
      assert.equal(empty.isEmpty, true);

      const batch = await producer.createBatch({ partitionId: "1" });
      for (let i = 0; i < 5; i++) assert.ok(batch.tryAdd({ body: `event ${i}` }));
      await producer.sendBatch(batch);
      const p = await producer.getPartitionProperties("1");
      assert.equal(p.isEmpty, false);
      assert.equal(p.beginningSequenceNumber, 0);
      assert.equal(p.lastEnqueuedSequenceNumber, 4);
      assert.equal(String(p.lastEnqueuedOffset), "4");
      assert.ok(p.lastEnqueuedOnUtc instanceof Date && Math.abs(Date.now() - p.lastEnqueuedOnUtc.getTime()) < 600_000,
        `lastEnqueuedOnUtc ${p.lastEnqueuedOnUtc}`);
    } finally {
      await producer.close();
    }
  });

  test("sendBatch with a partition key and the buffered producer land where lookup3 says", T, async () => {
    const partitions = 4;
    await createHub(node, "keys", partitions);
    const keys = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
    const producer = new EventHubProducerClient(cs, "keys", opts);
    try {
      for (const k of keys) {
        const batch = await producer.createBatch({ partitionKey: k });
        assert.ok(batch.tryAdd({ body: { via: "batch", key: k }, properties: { key: k } }));
        await producer.sendBatch(batch);
      }
    } finally {
      await producer.close();
    }
    const errors = [];
    const buffered = new EventHubBufferedProducerClient(cs, "keys", {
      ...opts,
    maxWaitTimeInMs: 100,
      onSendEventsErrorHandler: (ctx) => errors.push(ctx.error),
    });
    try {
      for (const k of keys) await buffered.enqueueEvent({ body: { via: "buffered", key: k }, properties: { key: k } }, { partitionKey: k });
      await buffered.flush();
    } finally {
      await buffered.close({ flush: true });
    }
    assert.deepEqual(errors.map(String), []);

    const consumer = new EventHubConsumerClient(DEFAULT_GROUP, cs, "keys", opts);
    try {
      const events = await collect(consumer, { count: 2 * keys.length, options: { startPosition: earliestEventPosition } });
      for (const e of events) {
        const want = String(mapPartitionKeyToId(e.body.key, partitions));
        assert.equal(e.partitionId, want, `event ${JSON.stringify(e.body)} is in partition ${e.partitionId}; the SDK's lookup3 says ${want}`);
        // The batch carried the key (x-opt-partition-key) and comes back with it; the buffered
        // producer hashes on the client and sends to the partition id, without the key.
        assert.equal(e.partitionKey, e.body.via === "batch" ? e.body.key : undefined, `partitionKey of ${JSON.stringify(e.body)}`);
        assert.equal(e.properties.key, e.body.key);
      }
      assert.equal(events.filter((e) => e.body.via === "buffered").length, keys.length);
    } finally {
      await consumer.close();
    }
  });

  test("subscribe without a checkpoint store reads every event of every partition, with its properties", T, async () => {
    await createHub(node, "all", 3);
    const producer = new EventHubProducerClient(cs, "all", opts);
    const n = 60;
    try {
      let batch = await producer.createBatch();
      for (let i = 0; i < n; i++) {
        const event = { body: { i }, properties: { i, kind: "test" }, messageId: `m-${i}`, contentType: "application/json", correlationId: `c-${i}` };
        if (!batch.tryAdd(event)) {
          await producer.sendBatch(batch);
          batch = await producer.createBatch();
          assert.ok(batch.tryAdd(event));
        }
      }
      await producer.sendBatch(batch);
    } finally {
      await producer.close();
    }
    const consumer = new EventHubConsumerClient(DEFAULT_GROUP, cs, "all", opts);
    try {
      const events = await collect(consumer, { count: n, options: { startPosition: earliestEventPosition } });
      const seen = new Set(events.map((e) => e.body.i));
      assert.equal(seen.size, n, "every event once");
      for (const e of events) {
        assert.deepEqual(e.properties, { i: e.body.i, kind: "test" });
        assert.equal(e.messageId, `m-${e.body.i}`);
        assert.equal(e.correlationId, `c-${e.body.i}`);
        assert.equal(e.contentType, "application/json");
        assert.equal(typeof e.sequenceNumber, "number");
        assert.ok(e.enqueuedTimeUtc instanceof Date);
      }
      // Within a partition, sequence numbers count from 0 without gaps.
      for (const p of ["0", "1", "2"]) {
        const seqs = events.filter((e) => e.partitionId === p).map((e) => e.sequenceNumber).sort((a, b) => a - b);
        assert.deepEqual(seqs, seqs.map((_, i) => i), `partition ${p} sequence numbers`);
      }
    } finally {
      await consumer.close();
    }
  });

  test("a batch filled to the link's maximum message size (multi-frame) and the array form of sendBatch", T, async () => {
    await createHub(node, "full", 2);
    const producer = new EventHubProducerClient(cs, "full", opts);
    let n = 0;
    try {
      const batch = await producer.createBatch({ partitionId: "0" });
      const payload = "x".repeat(1000);
      while (batch.tryAdd({ body: { n, payload } })) n++;
      assert.ok(n > 100, `only ${n} events of 1 KB fit a batch of ${batch.maxSizeInBytes} bytes`);
      assert.ok(batch.sizeInBytes > 65536, `a batch of ${batch.sizeInBytes} bytes does not need several frames`);
      console.log(`# full batch: ${n} events, ${batch.sizeInBytes} of ${batch.maxSizeInBytes} bytes`);
      await producer.sendBatch(batch);
      // An event larger than the batch can hold never fits.
      const one = await producer.createBatch({ partitionId: "1" });
      assert.equal(one.tryAdd({ body: "y".repeat(batch.maxSizeInBytes + 1) }), false);
      // sendBatch with an array and a partition key: one batch, on the key's partition.
      await producer.sendBatch([{ body: "k1" }, { body: "k2" }], { partitionKey: "array-key" });
    } finally {
      await producer.close();
    }
    const consumer = new EventHubConsumerClient(DEFAULT_GROUP, cs, "full", opts);
    try {
      const events = await collect(consumer, { count: n, partitionId: "0", options: { startPosition: earliestEventPosition, maxBatchSize: 500 } });
      assert.deepEqual(events.map((e) => e.body.n), [...Array(n).keys()]);
      const keyed = String(mapPartitionKeyToId("array-key", 2));
      const arr = await collect(consumer, { count: 2, partitionId: keyed, options: { startPosition: { sequenceNumber: keyed === "0" ? n - 1 : -1 } } });
      assert.deepEqual(arr.map((e) => [e.body, e.partitionKey]), [["k1", "array-key"], ["k2", "array-key"]]);
    } finally {
      await consumer.close();
    }
  });

  test("start positions: sequenceNumber and offset (exclusive and inclusive), enqueuedOn", T, async () => {
    await createHub(node, "positions", 1);
    const producer = new EventHubProducerClient(cs, "positions", opts);
    try {
      for (let i = 0; i < 10; i++) {
        // One batch per event, so enqueued times grow with the sequence number.
        const batch = await producer.createBatch({ partitionId: "0" });
        batch.tryAdd({ body: i });
        await producer.sendBatch(batch);
      }
    } finally {
      await producer.close();
    }
    const consumer = new EventHubConsumerClient(DEFAULT_GROUP, cs, "positions", opts);
    try {
      const first = async (startPosition) => (await collect(consumer, { count: 1, partitionId: "0", options: { startPosition } }))[0];
      assert.equal((await first({ sequenceNumber: 5 })).sequenceNumber, 6);
      assert.equal((await first({ sequenceNumber: 5, isInclusive: true })).sequenceNumber, 5);
      assert.equal((await first({ offset: "3" })).body, 4);
      assert.equal((await first({ offset: "3", isInclusive: true })).body, 3);
      const all = await collect(consumer, { count: 10, partitionId: "0", options: { startPosition: earliestEventPosition } });
      assert.deepEqual(all.map((e) => e.body), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // enqueuedOn is exclusive: the first event read is the first enqueued after that instant.
      const t = all[4].enqueuedTimeUtc;
      const want = all.find((e) => e.enqueuedTimeUtc.getTime() > t.getTime());
      if (want) {
        assert.equal((await first({ enqueuedOn: t })).sequenceNumber, want.sequenceNumber);
      }
      assert.equal((await first({ enqueuedOn: new Date(0) })).sequenceNumber, 0);
    } finally {
      await consumer.close();
    }
  });

  test("trackLastEnqueuedEventProperties reports the partition's last event", T, async () => {
    await createHub(node, "metric", 1);
    const producer = new EventHubProducerClient(cs, "metric", opts);
    try {
      const batch = await producer.createBatch({ partitionId: "0" });
      for (let i = 0; i < 7; i++) batch.tryAdd({ body: i });
      await producer.sendBatch(batch);
    } finally {
      await producer.close();
    }
    const consumer = new EventHubConsumerClient(DEFAULT_GROUP, cs, "metric", opts);
    let last;
    try {
      await collect(consumer, {
        count: 7,
        partitionId: "0",
        options: { startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true },
        onContext: (ctx) => { last = { ...ctx.lastEnqueuedEventProperties }; },
      });
    } finally {
      await consumer.close();
    }
    assert.equal(last?.sequenceNumber, 6, `lastEnqueuedEventProperties ${JSON.stringify(last)}`);
    assert.equal(String(last.offset), "6");
    assert.ok(last.enqueuedOn instanceof Date, `enqueuedOn ${last.enqueuedOn}`);
    assert.ok(last.retrievedOn instanceof Date, `retrievedOn ${last.retrievedOn}`);
  });

  test("two clients with a checkpoint store share the partitions (owner level 0) and a third resumes after the checkpoints", T, async () => {
    await createHub(node, "balance", 4);
    const partitions = ["0", "1", "2", "3"];
    const sendRound = async (...is) => {
      const producer = new EventHubProducerClient(cs, "balance", opts);
      try {
        for (const p of partitions) {
          const batch = await producer.createBatch({ partitionId: p });
          for (const i of is) batch.tryAdd({ body: { p, i } });
          await producer.sendBatch(batch);
        }
      } finally {
        await producer.close();
      }
    };
    await sendRound(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    const store = new InMemoryCheckpointStore();
    const seen = new Map(); // "p/i" → the clients that processed it
    const errors = [];
    const start = (name) => {
      const client = new EventHubConsumerClient(DEFAULT_GROUP, cs, "balance", store, {
        ...opts, identifier: name, // the owner id in the store
        loadBalancingOptions: { updateIntervalInMs: 250, partitionOwnershipExpirationIntervalInMs: 10_000 },
      });
      const sub = client.subscribe({
        processEvents: async (events, ctx) => {
          for (const e of events) {
            const k = `${e.body.p}/${e.body.i}`;
            seen.set(k, [...(seen.get(k) ?? []), name]);
          }
          if (events.length) await ctx.updateCheckpoint(events.at(-1));
        },
        processError: async (err, ctx) => { errors.push(`${name} on ${ctx.partitionId}: ${err.code ?? err.name}`); },
      }, { startPosition: earliestEventPosition, maxBatchSize: 50, maxWaitTimeInSeconds: 1 });
      return { client, stop: async () => { await sub.close(); await client.close(); } };
    };
    const ownerOf = async () => Object.fromEntries((await store.listOwnership()).map((o) => [o.partitionId, o.ownerId]));
    const until = async (what, cond) => {
      const deadline = Date.now() + 60_000;
      while (!(await cond())) {
        if (Date.now() > deadline) {
          throw new Error(`not within 60 s: ${what}; seen ${JSON.stringify([...seen])}, owners ${JSON.stringify(await ownerOf())}, errors ${errors}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const a = start("A");
    const b = start("B");
    try {
      // Balanced: A and B own two partitions each. Whoever came second took its two from the
      // other by opening receivers with the same owner level 0 (amqp:link:stolen).
      await until("A and B own two partitions each", async () => {
        const owners = Object.values(await ownerOf());
        return owners.filter((o) => o === "A").length === 2 && owners.filter((o) => o === "B").length === 2;
      });
      const fqns = a.client.fullyQualifiedNamespace;
      await until("every event processed and checkpointed", async () => seen.size === 40 &&
        (await store.listCheckpoints(fqns, "balance", DEFAULT_GROUP)).filter((c) => c.sequenceNumber === 9).length === 4);
      // New events are read by each partition's owner: the receiver that was taken over is
      // gone, and the one that took over reads.
      await sendRound(10);
      const owner = await ownerOf();
      await until("each partition's new event read by its owner", async () => partitions.every((p) => seen.get(`${p}/10`)?.includes(owner[p])));
      for (const p of partitions) assert.deepEqual(seen.get(`${p}/10`), [owner[p]], `partition ${p}'s event 10 read by ${seen.get(`${p}/10`)}; owner ${owner[p]}`);
      await until("the checkpoints at event 10", async () =>
        (await store.listCheckpoints(fqns, "balance", DEFAULT_GROUP)).filter((c) => c.sequenceNumber === 10).length === 4);
    } finally {
      await a.stop();
      await b.stop();
    }
    await sendRound(11);
    const before = new Set(seen.keys());
    const c = start("C");
    try {
      await until("the new events read by C", async () => partitions.every((p) => seen.get(`${p}/11`)?.includes("C")));
    } finally {
      await c.stop();
    }
    const reread = [...seen].filter(([k, who]) => before.has(k) && who.includes("C")).map(([k]) => k);
    assert.deepEqual(reread, [], "C started after the checkpoints, not from the beginning");
  });

  test("owner levels: an equal one takes the partition over, a lower one is refused", T, async () => {
    await createHub(node, "owners", 1);
    const producer = new EventHubProducerClient(cs, "owners", opts);
    try {
      const batch = await producer.createBatch({ partitionId: "0" });
      batch.tryAdd({ body: "owned" });
      await producer.sendBatch(batch);
    } finally {
      await producer.close();
    }
    const clients = [];
    const start = (ownerLevel) => {
      const r = { events: [], errors: [] };
      r.client = new EventHubConsumerClient(DEFAULT_GROUP, cs, "owners", opts);
      clients.push(r.client);
      r.sub = r.client.subscribe("0", {
        processEvents: async (events) => { r.events.push(...events); },
        processError: async (err) => { r.errors.push(err.code ?? err.name); },
      }, { ownerLevel, startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 });
      return r;
    };
    const until = async (what, cond) => {
      const deadline = Date.now() + 60_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`not within 60 s: ${what}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    try {
      const a = start(1);
      await until("A reads the event", () => a.events.length === 1);
      const b = start(1); // as high as A's: A is disconnected (amqp:link:stolen)
      await until(`A disconnected and B reading (A's errors ${a.errors}, B's ${b.errors})`,
        () => a.errors.includes("ReceiverDisconnectedError") && b.events.length === 1);
      await a.sub.close();
      const c = start(0); // lower than B's: refused
      await until(`C refused (C's errors ${c.errors})`, () => c.errors.length > 0);
      assert.equal(c.errors[0], "ReceiverDisconnectedError");
      assert.deepEqual(c.events, [], "a refused receiver reads nothing");
      assert.deepEqual(b.errors, [], "B keeps the partition");
    } finally {
      for (const client of clients) await client.close();
    }
  });

  test("a connection string with SharedAccessSignature= (a fixed token, no key): no SASL layer", T, async () => {
    await createHub(node, "sas", 1);
    // Through a relay that records each connection's protocol header: with a key the SDK (rhea)
    // opens with SASL (ANONYMOUS, key name as trace); with only a signature it has no user name
    // and sends the bare AMQP header, which the server must take (design §A.2.2).
    const spy = await headerSpy(node.amqp);
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    const token = sasToken(`sb://${spy.addr}/sas`, key.keyName, key.key, expiry);
    const sasCS = `Endpoint=sb://${spy.addr}/;SharedAccessSignature=${token};EntityPath=sas;UseDevelopmentEmulator=true`;
    try {
      const producer = new EventHubProducerClient(sasCS, opts);
      try {
        const batch = await producer.createBatch();
        batch.tryAdd({ body: "signed" });
        await producer.sendBatch(batch);
      } finally {
        await producer.close();
      }
      const consumer = new EventHubConsumerClient(DEFAULT_GROUP, sasCS, opts);
      try {
        const [e] = await collect(consumer, { count: 1, options: { startPosition: earliestEventPosition } });
        assert.equal(e.body, "signed");
      } finally {
        await consumer.close();
      }
      assert.ok(spy.headers.length >= 2, `connections seen: ${spy.headers.length}`);
      for (const h of spy.headers) assert.deepEqual([...h], [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0], `protocol header ${h.toString("hex")}`);

      const keyed = new EventHubProducerClient(amqpConnectionString({ amqp: spy.addr }, key), "sas", opts);
      try {
        await keyed.getEventHubProperties();
      } finally {
        await keyed.close();
      }
      assert.deepEqual([...spy.headers.at(-1)], [0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0], "a keyed string opens with SASL");
    } finally {
      await spy.close();
    }
    // A token signed with another key is refused, not retried forever.
    const forged = sasToken(`sb://${node.amqp}/sas`, key.keyName, "not-the-key", expiry);
    const bad = new EventHubProducerClient(`Endpoint=sb://${node.amqp}/;SharedAccessSignature=${forged};EntityPath=sas;UseDevelopmentEmulator=true`,
      { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
    try {
      await assert.rejects(bad.getEventHubProperties(), (err) => {
        assert.match(`${err.code} ${err.name} ${err.message}`, /Unauthorized|unauthorized|401/);
        return true;
      });
    } finally {
      await bad.close();
    }
  });

  test("UseDevelopmentEmulator=True (not lowercase) makes the JS SDK use TLS, which a plain AMQP port refuses", T, async () => {
    // core-amqp compares the value with "true" exactly, so "True" silently means AMQPS: the
    // pitfall `tandem connection-string --amqp` avoids by always writing lowercase true.
    await createHub(node, "pitfall", 1);
    const upper = amqpConnectionString(node, key, { emulatorFlag: "True" });
    const producer = new EventHubProducerClient(upper, "pitfall", { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
    try {
      // The client starts a TLS handshake; the server answers as plain AMQP (and logs "not an
      // AMQP protocol header: 16 03 01 …"), so OpenSSL reports a wrong version number.
      await assert.rejects(producer.getEventHubProperties(), (err) => {
        assert.match(`${err.code} ${err.message}`, /SSL|TLS|secure/i);
        return true;
      });
    } finally {
      await producer.close();
    }
    const lower = new EventHubProducerClient(amqpConnectionString(node, key), "pitfall", opts);
    try {
      assert.equal((await lower.getEventHubProperties()).name, "pitfall");
    } finally {
      await lower.close();
    }
  });

  test("tandem connection-string --amqp prints a string the SDK connects with", T, async () => {
    await createHub(node, "clistr", 2);
    const out = await cli(bin, ["connection-string", "default/clistr", "--amqp", "--server", node.http, "--data", node.dataDir]);
    assert.equal(out.code, 0, `tandem connection-string --amqp: ${out.stderr}${out.stdout}`);
    const printed = out.stdout.trim();
    assert.equal(printed, `Endpoint=sb://${node.amqp}/;SharedAccessKeyName=${key.keyName};SharedAccessKey=${key.key};EntityPath=clistr;UseDevelopmentEmulator=true`);
    const producer = new EventHubProducerClient(printed, opts);
    try {
      assert.deepEqual((await producer.getEventHubProperties()).partitionIds, ["0", "1"]);
    } finally {
      await producer.close();
    }
  });
});

// The Event Hubs emulator's own Config.json, imported at start (tandem serve --emulator-config):
// its hub and consumer group are there for the SDK, with the namespace's key or the emulator's
// literal connection string.
const emulatorConfig = new URL("../../../internal/emulator/testdata/emulator-Config.json", import.meta.url).pathname;
const hasEmulatorConfig = hasAMQP && await serveHasFlag(bin, "--emulator-config");
const skipEmulator = skip || (hasEmulatorConfig ? false : "this tandem serve has no --emulator-config flag");
if (skipEmulator && !skip) console.log(`# SKIP the emulator Config.json suite: ${skipEmulator}`);

describe("the emulator's Config.json and connection string", { skip: skipEmulator, timeout: 300_000 }, () => {
  let node;
  before(async () => {
    node = await startTandem(bin, ["--emulator-config", emulatorConfig]);
  });
  after(async () => {
    await node?.stop();
  });

  test("Config.json's hub eh1 (2 partitions) and consumer group cg1 serve the SDK", T, async () => {
    const key = await rootKey(node, "emulatorNs1");
    const cs = amqpConnectionString(node, key);
    const producer = new EventHubProducerClient(cs, "eh1", opts);
    try {
      assert.deepEqual((await producer.getEventHubProperties()).partitionIds, ["0", "1"]);
      const batch = await producer.createBatch();
      batch.tryAdd({ body: "from the emulator's config" });
      await producer.sendBatch(batch);
    } finally {
      await producer.close();
    }
    const consumer = new EventHubConsumerClient("cg1", cs, "eh1", opts);
    try {
      const [e] = await collect(consumer, { count: 1, options: { startPosition: earliestEventPosition } });
      assert.equal(e.body, "from the emulator's config");
    } finally {
      await consumer.close();
    }
  });

  // The emulator's documented string, unchanged but for the port: its key is the literal
  // placeholder SAS_KEY_VALUE and its host names no namespace. --dev accepts the placeholder;
  // the connection must then act in the config's namespace (emulatorNs1), not in "default".
  test("the emulator's literal connection string (SAS_KEY_VALUE) reaches emulatorNs1/eh1", T, async () => {
    const cs = `Endpoint=sb://${node.amqp};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;`;
    const producer = new EventHubProducerClient(cs, "eh1", opts);
    try {
      assert.deepEqual((await producer.getEventHubProperties()).partitionIds, ["0", "1"]);
    } finally {
      await producer.close();
    }
  });
});
